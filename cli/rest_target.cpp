// What the D1 REST API promises for several statements in one request, and why the fence holds.
//
// FINDINGS_PLACEHOLDER
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
      budget_(config_.budgetRequests, config_.budgetWindowMs) {
  sleep = [](int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
}

std::string RestTarget::databaseUrl() const {
  return config_.base + "/accounts/" + config_.account + "/d1/database/" + config_.database;
}

HttpAnswer RestTarget::send(const std::string& url, const std::string& body) {
  for (int64_t wait = budget_.waitMs(wallMs()); wait > 0; wait = budget_.waitMs(wallMs())) {
    stats_.waitedForBudgetMs += wait;
    sleep(wait);
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
