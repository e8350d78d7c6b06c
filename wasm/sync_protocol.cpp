#include "sync_protocol.hpp"

#include <nlohmann/json.hpp>

#include "fence.hpp"
#include "json_fields.hpp"

namespace d1sync {

using json = nlohmann::json;

namespace {

json base(const std::string& sourceId) {
  return json{{"v", 1}, {"sourceId", sourceId}};
}

// A fence row as the claim, takeover and probe batches return it (fence.hpp's query).
Rows sourceRows(const json& row) {
  Rows out;
  out.columns = 4;
  if (!row.is_object()) return out;
  auto text = [&](const char* k) {
    auto it = row.find(k);
    return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto number = [&](const char* k) {
    auto it = row.find(k);
    return it != row.end() && it->is_number_integer() ? std::to_string(it->get<int64_t>())
                                                      : std::string("0");
  };
  out.add(text("incarnation"));
  out.add(number("epoch"));
  out.add(number("applied"));
  out.add(text("last"));
  return out;
}

D1Failure failureOf(int status, const std::string& code) {
  if (status == 0 || status == 401 || status == 429 || status == 502 || status == 503 ||
      status == 504 || code == "TRANSIENT")
    return D1Failure::Transient;
  if (code == "FENCED") return D1Failure::Fenced;
  if (status == 413 || code == "LIMIT") return D1Failure::Limit;
  if (code == "SCHEMA") return D1Failure::Schema;
  if (code == "ROW") return D1Failure::Row;
  if (status == 403) return D1Failure::Refused;
  return D1Failure::Other;
}

BatchResult claimAnswer(const json& a) {
  std::vector<Rows> results(sync_protocol::kClaimEndpointResult + 1);
  results[kClaimRowStatement] = sourceRows(jsonField(a, "row"));
  Rows& owner = results[kClaimTenantStatement];
  owner.columns = 1;
  if (auto it = a.find("owner"); it != a.end() && it->is_string())
    owner.add(it->get<std::string>());
  Rows& tables = results[kClaimTablesStatement];
  tables.columns = 2;
  if (auto it = a.find("tables"); it != a.end() && it->is_array())
    for (const auto& t : *it)
      if (t.is_array() && t.size() == 2 && t[0].is_string() && t[1].is_string()) {
        tables.add(t[0].get<std::string>());
        tables.add(t[1].get<std::string>());
      }
  Rows& endpoint = results[sync_protocol::kClaimEndpointResult];
  endpoint.columns = 3;
  auto tenant = a.find("tenantColumn");
  const bool hasTenant = tenant != a.end() && tenant->is_string();
  endpoint.add(hasTenant ? tenant->get<std::string>() : std::string(), !hasTenant);
  const json& limits = jsonField(a, "limits");
  for (const char* k : {"requestBytes", "rowsPerRequest"}) {
    auto it = limits.find(k);
    const bool known = it != limits.end() && it->is_number_integer() && it->get<int64_t>() > 0;
    endpoint.add(known ? std::to_string(it->get<int64_t>()) : std::string(), !known);
  }
  return BatchResult::succeeded(0, std::move(results));
}

}  // namespace

std::string claimRequest(const std::string& sourceId, const std::string& incarnation,
                         int64_t applied, const std::string& mark) {
  json j = base(sourceId);
  j["incarnation"] = incarnation;
  j["applied"] = applied;
  j["mark"] = mark;
  return j.dump();
}

std::string takeoverRequest(const std::string& sourceId, const std::string& incarnation,
                            int64_t applied, const std::string& mark,
                            const std::string& theirIncarnation, int64_t theirEpoch) {
  json j = base(sourceId);
  j["incarnation"] = incarnation;
  j["applied"] = applied;
  j["mark"] = mark;
  j["theirs"] = json{{"incarnation", theirIncarnation}, {"epoch", theirEpoch}};
  return j.dump();
}

std::string readRequest(const std::string& sourceId, const std::string& incarnation,
                        const std::vector<std::string>& reads) {
  std::string list;
  for (const auto& r : reads) list += (list.empty() ? "" : ",") + r;
  return "{\"v\":1,\"sourceId\":" + json(sourceId).dump() +
         ",\"incarnation\":" + json(incarnation).dump() + ",\"reads\":[" + list + "]}";
}

std::string probeRequest(const std::string& sourceId) {
  return base(sourceId).dump();
}

BatchResult endpointAnswer(const std::string& op, int status, const std::string& body,
                           int64_t retryAfterMs) {
  json a = parseJson(body);
  if (status != 200) {
    std::string code, message;
    if (a.is_object() && a.contains("error") && a["error"].is_object()) {
      code = textField(a["error"], "code");
      message = textField(a["error"], "message");
    }
    if (message.empty())
      message = status == 0 ? "the sync endpoint could not be reached"
                            : "the sync endpoint answered HTTP " + std::to_string(status);
    if (!code.empty()) message = code + ": " + message;
    BatchResult r = BatchResult::failed(0, failureOf(status, code), message);
    r.failure.retryAfterMs = retryAfterMs;
    return r;
  }
  if (!a.is_object())
    return BatchResult::failed(0, D1Failure::Other, "the sync endpoint answered without JSON");
  if (op == sync_protocol::kClaim) return claimAnswer(a);
  if (op == sync_protocol::kApply) {
    auto count = [&](const char* k) {
      auto it = a.find(k);
      return it != a.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
    };
    if (!boolField(a, "applied", false))
      return BatchResult::failed(0, D1Failure::Other, "the sync endpoint did not apply the batch");
    return BatchResult::succeeded(0, {}, count("rowsRead"), count("rowsWritten"));
  }
  if (op == sync_protocol::kRead) {
    const json& list = jsonField(a, "results");
    if (!list.is_array())
      return BatchResult::failed(0, D1Failure::Other, "the sync endpoint's read has no results");
    std::vector<Rows> results;
    for (const auto& rows : list) {
      Rows out;
      if (!rows.is_array())
        return BatchResult::failed(0, D1Failure::Other, "a read result is not a list of rows");
      for (const auto& row : rows) {
        if (!row.is_array() || (out.columns && row.size() != out.columns) || row.empty())
          return BatchResult::failed(0, D1Failure::Other, "a read result has a malformed row");
        out.columns = row.size();
        for (const auto& cell : row) {
          if (!cell.is_null() && !cell.is_string())
            return BatchResult::failed(0, D1Failure::Other, "a read result has a cell not text");
          out.add(cell.is_null() ? "" : cell.get<std::string>(), cell.is_null());
        }
      }
      results.push_back(std::move(out));
    }
    auto read = a.find("rowsRead");
    return BatchResult::succeeded(
        0, std::move(results),
        read != a.end() && read->is_number_integer() ? read->get<int64_t>() : 0);
  }
  // takeover and probe: the row where their batches return it (fence.hpp).
  std::vector<Rows> results(op == sync_protocol::kTakeover ? 2 : 1);
  results.back() = sourceRows(jsonField(a, "row"));
  return BatchResult::succeeded(0, std::move(results));
}

}  // namespace d1sync
