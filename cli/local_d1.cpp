#include "local_d1.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "json_fields.hpp"
#include "wrangler_config.hpp"

extern char** environ;

namespace d1sync::cli {
namespace {

std::string randomHex(size_t bytes) {
  std::string out;
  FILE* f = std::fopen("/dev/urandom", "rb");
  static const char* const kHex = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    const int c = f ? std::fgetc(f) : std::rand();
    out += kHex[(c >> 4) & 15];
    out += kHex[c & 15];
  }
  if (f) std::fclose(f);
  return out;
}

// The first line the server prints, or "" when it exits or stays silent for `timeoutMs`.
std::string readLine(int fd, int timeoutMs) {
  std::string line;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeoutMs) <= 0) return "";
    char c;
    if (read(fd, &c, 1) != 1) return "";
    if (c == '\n') return line;
    line += c;
  }
}

}  // namespace

std::string localServerScript() {
  if (const char* env = std::getenv("D1SYNC_LOCAL_SERVER"); env && *env) return env;
  return D1SYNC_SOURCE_DIR "/tools/d1-rest-standin.mjs";
}

LocalD1::~LocalD1() {
  stop();
}

void LocalD1::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string LocalD1::start(const LocalD1Request& req) {
  WranglerConfig config;
  if (auto e = readWranglerConfig(req.config, "", config); !e.empty()) return e;
  D1Binding b;
  if (auto e = findBinding(config, req.binding, b); !e.empty()) return e;
  // wrangler d1 execute --local serves preview_database_id when set, else database_id.
  databaseId_ = !b.previewDatabaseId.empty() ? b.previewDatabaseId : b.databaseId;
  if (databaseId_.empty()) databaseId_ = b.databaseName;
  const std::string script = localServerScript();
  if (!std::filesystem::exists(script))
    return "cannot find " + script + " (the local D1 server; set D1SYNC_LOCAL_SERVER)";
  token_ = randomHex(24);
  const std::string node = std::getenv("D1SYNC_NODE") ? std::getenv("D1SYNC_NODE") : "node";
  std::vector<std::string> argv = {node,        script,    "--port",
                                   "0",         "--token", token_,
                                   "--account", account_,  "--wrangler-config",
                                   config.path};
  argv.insert(argv.end(), {"--binding", b.binding});
  if (!req.persistTo.empty()) argv.insert(argv.end(), {"--persist-to", req.persistTo});
  std::vector<char*> cargv;
  for (auto& s : argv) cargv.push_back(s.data());
  cargv.push_back(nullptr);

  int pipeFd[2];
  if (pipe(pipeFd) != 0) return "cannot start the local D1 server: pipe failed";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipeFd[1], 1);
  posix_spawn_file_actions_addclose(&actions, pipeFd[0]);
  if (!req.verbose) posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const int rc = posix_spawnp(&pid_, node.c_str(), &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipeFd[1]);
  if (rc != 0) {
    close(pipeFd[0]);
    pid_ = -1;
    return "cannot start the local D1 server: " + node + " not found (Node.js 20 or later)";
  }
  const std::string line = readLine(pipeFd[0], 60000);
  close(pipeFd[0]);
  const auto doc = nlohmann::json::parse(line, nullptr, false);
  url_ = textField(doc, "url");
  if (url_.empty()) {
    stop();
    return "the local D1 server did not start (run with -v to see its messages)";
  }
  if (url_.back() == '/') url_.pop_back();
  url_ += "/client/v4";
  return "";
}

}  // namespace d1sync::cli
