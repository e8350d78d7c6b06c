// D1 over its REST API, as a synchronous Target: one HTTPS request per batch to
//   POST {base}/accounts/{account}/d1/database/{database}/raw
// with the statements as {"batch":[{"sql":…},…]} (rest_answer.hpp has the envelope). The
// engine's fence assumes a batch commits whole or not at all; see rest_target.cpp for what the
// API documents about that and why the fence holds under its weakest reading. The token is
// sent as a Bearer header and scrubbed from every message this target produces.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "http_client.hpp"
#include "rate_budget.hpp"
#include "target.hpp"

namespace d1sync::cli {

struct RestConfig {
  std::string base = "https://api.cloudflare.com/client/v4";
  std::string account;
  std::string database;  // the database's id (uuid)
  std::string token;
  HttpTimeouts timeouts;
  int64_t budgetRequests = 1200;
  int64_t budgetWindowMs = 300000;
};

struct RestStats {
  int64_t requests = 0;
  int64_t bytesSent = 0;
  int64_t waitedForBudgetMs = 0;
};

class RestTarget final : public Target {
 public:
  explicit RestTarget(RestConfig config);
  BatchResult apply(const Batch& batch) override;
  // One read outside the engine (status, resolving names): the rows of a single statement.
  BatchResult query(const std::string& sql);
  // GET {base}/accounts/{account}/d1/database?name=…: the id of the database called `name`,
  // or an error message in `error`.
  std::string databaseIdByName(const std::string& name, std::string& error);
  void setInterrupt(const std::atomic<bool>* flag) { http_.setInterrupt(flag); }
  const RestStats& stats() const { return stats_; }
  const RestConfig& config() const { return config_; }

 private:
  HttpAnswer send(const std::string& url, const std::string& body);
  std::string databaseUrl() const;
  RestConfig config_;
  HttpClient http_;
  RateBudget budget_;
  RestStats stats_;
};

// Milliseconds since the epoch on the wall clock.
int64_t wallMs();

}  // namespace d1sync::cli
