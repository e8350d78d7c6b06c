// The command line: `d1sync <command> <file> [options]`, parsed by CLI11 into Args. Parsing is
// separate from running so the usage text, the defaults and every refusal are testable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace d1sync::cli {

// Exit codes, the same for every command (the usage text lists them).
enum Exit : int {
  kOk = 0,            // pushed / in sync / equal
  kBehind = 1,        // status: D1 is behind; verify: D1 differs
  kUsage = 2,         // the command line itself is wrong
  kFile = 3,          // the local file: missing, not SQLite, corrupt, locked
  kConfig = 4,        // token, account, database, binding, table: missing or refused
  kFenced = 5,        // another source owns this partition in D1
  kUnavailable = 6,   // D1 kept failing until the retry time ran out: run again to resume
  kSchema = 7,        // D1's schema conflicts with the file's
  kInternal = 8,      // a bug, or an answer nobody expected
  kInterrupted = 130  // Ctrl-C: stopped between requests; run again to resume
};

struct Args {
  std::string command;  // push | pull | status | verify
  std::string file;
  std::vector<std::string> tables;
  std::string tenant;  // column=value
  std::string sourceId;
  bool dryRun = false;
  bool json = false;
  bool quiet = false;
  int verbose = 0;
  std::string log = "off";        // the engine's events on stderr: off | warn | info | debug
  bool check = false;             // PRAGMA quick_check even when the file was pushed before
  bool takeover = false;          // the file takes the source over from its current owner in D1
  bool snapshot = false;          // push: never write to the file; send what verify finds differing
  bool repair = false;            // verify: send the differing keys again, then verify again
  int64_t maxDifferences = 1000;  // verify: keys listed before the rest is left unresolved
  // Where D1 is.
  bool local = false;
  std::string database;  // name or id
  std::string config;    // wrangler.json / wrangler.jsonc / wrangler.toml
  std::string binding;
  std::string persistTo;  // --local: wrangler's --persist-to
  std::string apiUrl;     // the API's base URL (CLOUDFLARE_API_BASE_URL)
  int64_t busyTimeoutMs = 5000;
  int64_t timeoutMs = 60000;
  int64_t retryForMs = 300000;
  std::string rate = "1200/300";  // requests / seconds
};

// Parses argv. Returns -1 when the command should run; otherwise the exit code, with what to
// print in `out` (help: stdout) or `err` (a usage error: stderr).
int parseArgs(int argc, const char* const* argv, Args& args, std::string& out, std::string& err);

// "1200/300" -> requests and window; false when malformed.
bool parseRate(const std::string& text, int64_t& requests, int64_t& windowMs);
// "column=value" -> the engine's tenant option ({"column":…,"value":…}, an integer value as a
// number). Returns an error message, empty on success.
std::string tenantOption(const std::string& text, std::string& column, std::string& valueJson);

}  // namespace d1sync::cli
