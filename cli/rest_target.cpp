// What the D1 REST API promises for several statements in one request, and why the fence holds.
//
// Found: the API reference for POST …/d1/database/{id}/query and …/raw
// (developers.cloudflare.com/api/resources/d1/subresources/database/methods/query/) takes
// `{sql, params}` or `{batch: [{sql, params}, …]}` and says multiple statements "will be
// executed as a batch"; D1's documentation of batches (cloudflare-docs
// src/content/docs/d1/worker-api/d1-database.mdx) says "Batched statements are SQL transactions.
// If a statement in the sequence fails, then an error is returned for that specific statement,
// and it aborts or rolls back the entire sequence". wrangler relies on the same over REST:
// `d1 migrations apply --remote` sends a migration and its ledger row as one request and says a
// failing migration "will be rolled back" (packages/wrangler/src/d1/migrations/apply.ts). So a
// request is all-or-nothing; the answer does not say which statement failed.
//
// The weakest reading of "aborts or rolls back" — D1 stops at the first failing statement and
// keeps those before it — still cannot lose or double a change: the fence's guard is the first
// statement (a refused guard applies nothing), every data statement is an idempotent upsert or
// delete by key that the retry sends again, and the watermark advances in the last statement,
// which only runs if every statement before it did. What would break exactly-once is D1
// continuing past a failure to the watermark; nothing documented allows that, and an answer
// that reports success with a failed statement inside is refused here (rest_answer.cpp), never
// counted as a commit.
#include "rest_target.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "json_fields.hpp"
#include "rest_answer.hpp"

namespace d1sync::cli {

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

RestTarget::RestTarget(RestConfig config)
    : config_(std::move(config)),
      http_(config_.timeouts),
      budget_(config_.budgetRequests, config_.budgetWindowMs) {}

std::string RestTarget::databaseUrl() const {
  return config_.base + "/accounts/" + config_.account + "/d1/database/" + config_.database;
}

HttpAnswer RestTarget::send(const std::string& url, const std::string& body) {
  for (int64_t wait = budget_.waitMs(wallMs()); wait > 0; wait = budget_.waitMs(wallMs())) {
    stats_.waitedForBudgetMs += wait;
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  }
  budget_.sent(wallMs());
  ++stats_.requests;
  stats_.bytesSent += static_cast<int64_t>(body.size());
  HttpAnswer a = http_.request(url, {"Authorization: Bearer " + config_.token}, body);
  a.transportError = scrub(a.transportError, config_.token);
  a.body = scrub(a.body, config_.token);
  return a;
}

BatchResult RestTarget::apply(const Batch& batch) {
  const HttpAnswer a = send(databaseUrl() + "/raw", batchBody(batch.statements));
  return decodeAnswer(batch.id, batch.statements.size(), a, wallMs());
}

BatchResult RestTarget::query(const std::string& sql) {
  return apply(Batch{0, {sql}, {}, {}});
}

std::string RestTarget::databaseIdByName(const std::string& name, std::string& error) {
  std::string url = config_.base + "/accounts/" + config_.account + "/d1/database?name=";
  char* escaped = curl_easy_escape(nullptr, name.c_str(), static_cast<int>(name.size()));
  url += escaped ? escaped : "";
  curl_free(escaped);
  const HttpAnswer a = send(url, "");
  const nlohmann::json doc = nlohmann::json::parse(a.body, nullptr, false);
  if (a.status != 200 || !boolField(doc, "success", false)) {
    error = decodeAnswer(0, 0, a, wallMs()).failure.message;
    return "";
  }
  const auto& list = jsonField(doc, "result");
  if (list.is_array())
    for (const auto& db : list)
      if (textField(db, "name") == name) return textField(db, "uuid");
  error = "the account has no D1 database named '" + name + "'";
  return "";
}

}  // namespace d1sync::cli
