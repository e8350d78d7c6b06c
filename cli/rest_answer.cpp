#include "rest_answer.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "json_fields.hpp"

namespace d1sync::cli {
namespace {

using nlohmann::json;

// A cell of a /raw row as the engine reads cells: text verbatim, numbers in decimal, NULL
// flagged. The engine's own queries over D1 return text and small integers.
void addCell(Rows& rows, const json& v) {
  if (v.is_null()) return rows.add("", true);
  if (v.is_string()) return rows.add(v.get<std::string>());
  if (v.is_number_integer()) return rows.add(std::to_string(v.get<int64_t>()));
  if (v.is_number_unsigned()) return rows.add(std::to_string(v.get<uint64_t>()));
  if (v.is_boolean()) return rows.add(v.get<bool>() ? "1" : "0");
  if (v.is_number_float()) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
    return rows.add(buf);
  }
  rows.add(v.dump());
}

bool decodeResult(const json& item, Rows& out, int64_t& read, int64_t& written) {
  if (!item.is_object()) return false;
  const json& results = jsonField(item, "results");
  const json& columns = jsonField(results, "columns");
  const json& rows = jsonField(results, "rows");
  if (columns.is_array()) out.columns = columns.size();
  if (rows.is_array()) {
    for (const auto& row : rows) {
      if (!row.is_array() || row.size() != out.columns) return false;
      for (const auto& v : row) addCell(out, v);
    }
  }
  const json& meta = jsonField(item, "meta");
  read += std::max<int64_t>(0, intField(meta, "rows_read", 0));
  written += std::max<int64_t>(0, intField(meta, "rows_written", 0));
  return true;
}

const json& firstErrorObject(const json& doc) {
  static const json kNone;
  const json& errors = jsonField(doc, "errors");
  return errors.is_array() && !errors.empty() ? errors[0] : kNone;
}

// The first error's "code: message" (the API may send several; the first is the cause).
std::string firstError(const json& doc, long status) {
  std::string text = "HTTP " + std::to_string(status);
  const json& e = firstErrorObject(doc);
  if (jsonField(e, "code").is_number_integer())
    text += ", code " + std::to_string(intField(e, "code", 0));
  if (jsonField(e, "message").is_string()) text += ": " + textField(e, "message");
  return text;
}

BatchResult failed(uint64_t id, D1Failure kind, std::string message, int64_t retryMs = 0) {
  BatchResult r = BatchResult::failed(id, kind, std::move(message));
  r.failure.retryAfterMs = retryMs;
  return r;
}

}  // namespace

std::string batchBody(const std::vector<std::string>& statements) {
  json batch = json::array();
  for (const auto& s : statements) batch.push_back({{"sql", s}});
  // The engine renders text that is not valid UTF-8 as CAST(X'..' AS TEXT), so every
  // statement is valid UTF-8 and `replace` never fires.
  return json{{"batch", std::move(batch)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

int64_t retryAfterMs(const std::string& header, int64_t nowMs) {
  if (header.empty()) return 0;
  bool digits = true;
  for (char c : header) digits = digits && c >= '0' && c <= '9';
  if (digits) return header.size() > 6 ? 0 : std::stoll(header) * 1000;
  const time_t at = curl_getdate(header.c_str(), nullptr);
  if (at < 0) return 0;
  const int64_t ms = static_cast<int64_t>(at) * 1000 - nowMs;
  return ms > 0 ? ms : 0;
}

std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
    text.replace(at, secret.size(), "***");
  return text;
}

BatchResult decodeAnswer(uint64_t id, size_t statements, const HttpAnswer& a, int64_t nowMs) {
  if (a.status == 0)
    return failed(id, D1Failure::Transient, "no answer from the D1 REST API: " + a.transportError);
  const int64_t retryMs = retryAfterMs(a.retryAfter, nowMs);
  const json doc = json::parse(a.body, nullptr, false);
  const std::string error = firstError(doc, a.status);
  if (a.status == 401 || a.status == 403)
    return failed(id, D1Failure::Refused, "the D1 REST API refused the token (" + error + ")");
  if (a.status == 404)
    return failed(id, D1Failure::Refused, "no such D1 database or account (" + error + ")");
  if (a.status == 429 || a.status >= 500) return failed(id, D1Failure::Transient, error, retryMs);
  if (a.status == 413) return failed(id, D1Failure::Limit, error);
  if (doc.is_discarded() || !doc.is_object())
    return failed(id, D1Failure::Other, error + ": the answer is not the API's JSON envelope");
  if (a.status != 200 || !boolField(doc, "success", false)) {
    // D1's message is the classifiable part: "no such table: t: SQLITE_ERROR", ….
    const D1Failure kind = classifyD1Error(textField(firstErrorObject(doc), "message", error));
    return failed(id, kind, error, kind == D1Failure::Transient ? retryMs : 0);
  }
  const json& result = jsonField(doc, "result");
  if (!result.is_array() || result.size() != statements)
    return failed(id, D1Failure::Other,
                  "the D1 REST API answered " +
                      std::to_string(result.is_array() ? result.size() : 0) + " results for " +
                      std::to_string(statements) + " statements");
  std::vector<Rows> rows(statements);
  int64_t read = 0, written = 0;
  for (size_t i = 0; i < statements; ++i) {
    const json& item = result[i];
    if (!decodeResult(item, rows[i], read, written))
      return failed(id, D1Failure::Other,
                    "the D1 REST API's result " + std::to_string(i) + " is malformed");
    if (!boolField(item, "success", true))
      return failed(id, D1Failure::Other,
                    "the D1 REST API reported statement " + std::to_string(i) + " failed");
  }
  return BatchResult::succeeded(id, std::move(rows), read, written);
}

}  // namespace d1sync::cli
