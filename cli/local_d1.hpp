// wrangler's local D1, reached the way `wrangler d1 execute DB --local` reaches it: a
// Miniflare over the project's .wrangler/state with the binding's database (preview id, else
// id). The command line is native and Miniflare is JavaScript, so push --local starts
// tools/d1-rest-standin.mjs in that mode (with node, from the project's own node_modules when
// it has miniflare) and speaks the REST API to it on 127.0.0.1 with a one-time token.
#pragma once

#include <sys/types.h>

#include <string>

namespace d1sync::cli {

struct LocalD1Request {
  std::string config;     // the wrangler configuration file
  std::string binding;    // may be empty: the only binding
  std::string persistTo;  // wrangler's --persist-to; empty: .wrangler/state beside the config
  bool verbose = false;   // let the server's own messages through
};

class LocalD1 {
 public:
  LocalD1() = default;
  ~LocalD1();
  LocalD1(const LocalD1&) = delete;
  LocalD1& operator=(const LocalD1&) = delete;
  // Starts the server and waits for its address. Returns an error message, empty on success.
  std::string start(const LocalD1Request& request);
  void stop();
  const std::string& apiUrl() const { return url_; }
  const std::string& token() const { return token_; }
  const std::string& account() const { return account_; }
  const std::string& databaseId() const { return databaseId_; }

 private:
  pid_t pid_ = -1;
  std::string url_, token_, account_ = "local", databaseId_;
};

// Where the server script is: $D1SYNC_LOCAL_SERVER, else the copy installed beside the
// sources this binary was built from.
std::string localServerScript();

}  // namespace d1sync::cli
