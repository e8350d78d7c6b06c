#include "session.hpp"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "wrangler_config.hpp"

namespace d1sync::cli {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool looksLikeId(const std::string& s) {
  // D1 ids are UUIDs: 32 hex digits, with dashes.
  size_t hex = 0;
  for (char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c)))
      ++hex;
    else if (c != '-')
      return false;
  }
  return hex == 32;
}

}  // namespace

int exitFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::None:
      return kOk;
    case ErrorCode::Config:
      return kConfig;
    case ErrorCode::Fenced:
      return kFenced;
    case ErrorCode::Schema:
      return kSchema;
    case ErrorCode::Internal:
      return kInternal;
    case ErrorCode::D1Transient:
    case ErrorCode::D1Limit:
    case ErrorCode::D1Constraint:
      return kUnavailable;
  }
  return kInternal;
}

int openFile(const Args& args, bool readOnly, Session& s, std::string& err, bool create) {
  FileError e = s.file.open(args.file, readOnly, args.busyTimeoutMs, create);
  if (e) {
    err = e.message;
    return kFile;
  }
  QueryResult r =
      s.file.exec("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='_d1sync_state'");
  if (!r.ok) {
    err = args.file + ": " + r.error;
    return kFile;
  }
  s.replicatedBefore = r.rows.size() == 1 && r.rows.at(0, 0) == "1";
  if (args.check || !s.replicatedBefore) {
    if ((e = s.file.check())) {
      err = e.message;
      return kFile;
    }
  }
  return -1;
}

int openTarget(const Args& args, Session& s, std::string& err) {
  if (args.local) {
    LocalD1Request req{args.config, args.binding, args.persistTo, args.verbose > 1};
    if (auto e = s.local.start(req); !e.empty()) {
      err = e;
      return kConfig;
    }
    RestConfig c;
    c.base = s.local.apiUrl();
    c.account = s.local.account();
    c.database = s.local.databaseId();
    c.token = s.local.token();
    c.timeouts.requestMs = args.timeoutMs;
    c.budgetRequests = 0;  // no budget on a local server
    s.target = std::make_unique<RestTarget>(c);
    s.where = "wrangler's local D1 (database " + c.database + ")";
    return -1;
  }
  RestConfig c;
  c.token = env("CLOUDFLARE_API_TOKEN");
  if (c.token.empty()) {
    err = "CLOUDFLARE_API_TOKEN is not set: create an API token with D1 edit rights and export it";
    return kConfig;
  }
  c.base = !args.apiUrl.empty() ? args.apiUrl : env("CLOUDFLARE_API_BASE_URL");
  if (c.base.empty()) c.base = "https://api.cloudflare.com/client/v4";
  while (!c.base.empty() && c.base.back() == '/') c.base.pop_back();
  c.account = env("CLOUDFLARE_ACCOUNT_ID");
  std::string database = args.database;
  if (database.empty() || c.account.empty()) {
    WranglerConfig config;
    std::string e = readWranglerConfig(args.config, "", config);
    D1Binding b;
    if (e.empty() && database.empty()) e = findBinding(config, args.binding, b);
    if (!e.empty()) {
      err = database.empty() ? "no D1 database given: " + e : e;
      return kConfig;
    }
    if (database.empty()) database = !b.databaseId.empty() ? b.databaseId : b.databaseName;
    if (c.account.empty()) c.account = config.accountId;
  }
  if (c.account.empty()) {
    err = "CLOUDFLARE_ACCOUNT_ID is not set (nor account_id in the wrangler configuration)";
    return kConfig;
  }
  int64_t requests = 0, windowMs = 0;
  parseRate(args.rate, requests, windowMs);
  c.budgetRequests = requests;
  c.budgetWindowMs = windowMs;
  c.timeouts.requestMs = args.timeoutMs;
  c.database = database;
  s.target = std::make_unique<RestTarget>(c);
  if (!looksLikeId(database)) {
    std::string e;
    std::string id = s.target->databaseIdByName(database, e);
    if (id.empty()) {
      err = e;
      return kConfig;
    }
    c.database = id;
    s.target = std::make_unique<RestTarget>(c);
  }
  s.where = "D1 database " + c.database;
  return -1;
}

int buildOptions(const Args& args, Session& s, std::string& err) {
  nlohmann::json o;
  o["sourceId"] =
      !args.sourceId.empty() ? args.sourceId : std::filesystem::path(args.file).stem().string();
  if (!args.tables.empty()) o["tables"] = args.tables;
  if (!args.tenant.empty()) {
    std::string column, value;
    tenantOption(args.tenant, column, value);
    o["tenant"] = {{"column", column}, {"value", nlohmann::json::parse(value, nullptr, false)}};
  }
  o["flushRetryMs"] = args.retryForMs;
  o["takeover"] = args.takeover;
  o["log"] = args.log;
  if (args.command == "pull") o["hydrate"] = true;
  o["seed"] = std::random_device{}();
  if (auto e = parseOptions(o.dump(), s.options); !e.empty()) {
    err = e;
    return kUsage;
  }
  return -1;
}

}  // namespace d1sync::cli
