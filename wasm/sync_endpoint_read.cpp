// The endpoint's "read" op (sync_protocol.hpp): what hydrate and verify read of the caller's
// partition. The client names tables and columns and sends keys as literals; every name is
// matched against the allow-list and D1's schema (D1's spelling is what reaches SQL), every
// literal against the changeset grammar, and the tenant filter is the caller's, from
// authentication. The batch starts with a guard that answers only while the caller's
// incarnation owns the partition.
#include <nlohmann/json.hpp>

#include "changeset.hpp"
#include "fence.hpp"
#include "json_fields.hpp"
#include "render.hpp"
#include "sql_text.hpp"
#include "sync_endpoint.hpp"
#include "sync_protocol.hpp"
#include "verify.hpp"

namespace d1sync {

using json = nlohmann::json;

namespace {

constexpr size_t kMaxReads = 50;
constexpr int64_t kMaxRowsPerRead = 20000;
constexpr size_t kMaxFetchKeys = 1000;
constexpr int64_t kMaxInline = 900000;  // a value's literal stays under D1's ~2 MB string cap
constexpr int64_t kMaxPiece = 1000000;  // bytes of one long value's piece

EndpointStep answer(int status, const std::string& code, const std::string& message) {
  EndpointStep s;
  s.status = status;
  s.body = json{{"error", {{"code", code}, {"message", message}}}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
  return s;
}

// The guard of a read: the caller's incarnation owns its partition's fence row.
std::string ownerGuard(const FenceId& f) {
  return "SELECT CASE WHEN (SELECT incarnation=" + quoteText(f.incarnation) +
         " FROM _d1sync_sources WHERE source_id=" + quoteText(f.sourceId) +
         ") THEN 1 ELSE json_extract('{}','$d1sync: FENCED') END";
}

bool isNames(const json& j) {
  if (!j.is_array() || j.empty() || j.size() > 100) return false;
  for (const auto& n : j)
    if (!n.is_string() || n.get<std::string>().empty()) return false;
  return true;
}

// A key as the client sends it: comma-separated literals of `width` values.
bool isKey(const json& j, size_t width) {
  return j.is_string() && checkTuple("(" + j.get<std::string>() + ")", width).ok();
}

// A range bound: one literal, or a row value of `width` literals.
bool isBound(const json& j, size_t width) {
  if (j.is_null()) return true;
  if (!j.is_string()) return false;
  const std::string b = j.get<std::string>();
  return checkTuple(width == 1 ? "(" + b + ")" : b, width).ok();
}

}  // namespace

EndpointStep SyncEndpoint::read(std::string_view body, const Caller& caller) {
  json j = parseJson(body);
  if (!j.is_object() || intField(j, "v", 0) != 1 || !j.contains("reads") ||
      !j["reads"].is_array() || j["reads"].empty() || j["reads"].size() > kMaxReads)
    return answer(400, "BAD_REQUEST",
                  "a read request is {\"v\":1,\"sourceId\",\"incarnation\",\"reads\":[...]} "
                  "with 1 to " +
                      std::to_string(kMaxReads) + " reads");
  for (auto& [key, value] : j.items())
    if (key != "v" && key != "sourceId" && key != "incarnation" && key != "reads")
      return answer(400, "BAD_REQUEST", "unknown field '" + key + "' in read");
  const std::string sourceId = textField(j, "sourceId");
  const std::string incarnation = textField(j, "incarnation");
  if (sourceId != caller.clientId)
    return answer(403, "FORBIDDEN", "sourceId '" + sourceId + "' is not this client's");
  if (incarnation.compare(0, caller.clientId.size() + 1, caller.clientId + "/") != 0 ||
      incarnation.size() > 512)
    return answer(403, "FORBIDDEN", "incarnation must be '" + caller.clientId + "/<id>'");
  FenceId fence;
  fence.tenantColumn = config_.tenantColumn.value_or("");
  fence.tenantLiteral = caller.tenantLiteral;
  fence.sourceId = "endpoint:" + fence.tenantColumn + (fence.tenantColumn.empty() ? "" : "=") +
                   caller.tenantLiteral;
  fence.incarnation = incarnation;
  std::vector<std::string> statements = {ownerGuard(fence)};
  for (const auto& r : j["reads"]) {
    EndpointStep refusal;
    auto sql = readStatement(r.dump(), caller, refusal);
    if (!sql) return refusal;
    statements.push_back(std::move(*sql));
  }
  EndpointStep s;
  s.kind = EndpointStep::Run;
  s.statements = std::move(statements);
  s.context = json{{"op", sync_protocol::kRead}}.dump();
  return s;
}

std::optional<std::string> SyncEndpoint::readStatement(const std::string& text,
                                                       const Caller& caller,
                                                       EndpointStep& refusal) const {
  json r = parseJson(text);
  auto bad = [&](const std::string& m) {
    refusal = answer(400, "BAD_REQUEST", m);
    return std::nullopt;
  };
  if (!r.is_object()) return bad("a read is a JSON object");
  const std::string kind = textField(r, "kind");
  if (kind == "tables") {
    std::string names;
    for (const auto& t : config_.tables) names += (names.empty() ? "" : ",") + quoteText(t);
    return "SELECT name, sql FROM sqlite_master WHERE type='table' AND sql IS NOT NULL AND name "
           "IN (" +
           names + ") ORDER BY name";
  }
  // A table of the allow-list that D1 has, and D1's spelling of the columns named.
  const std::string table = textField(r, "table");
  bool allowed = false;
  for (const auto& t : config_.tables) allowed = allowed || t == table;
  if (!allowed) {
    refusal = answer(403, "FORBIDDEN", "table '" + table + "' is not one this endpoint serves");
    return std::nullopt;
  }
  const Known* k = known(table);
  if (!k) {
    refusal = answer(422, "SCHEMA", "D1 has no table '" + table + "'");
    return std::nullopt;
  }
  auto d1Names = [&](const json& names, std::vector<std::string>& out) -> bool {
    for (const auto& n : names) {
      const std::string name = n.get<std::string>();
      if (config_.tenantColumn && equalsNoCase(name, *config_.tenantColumn)) {
        refusal = answer(403, "FORBIDDEN", "column '" + name + "' is the tenant column");
        return false;
      }
      const std::string* d1 = nullptr;
      for (const auto& c : k->table.columns)
        if (equalsNoCase(c, name)) d1 = &c;
      if (!d1) {
        refusal = answer(422, "SCHEMA", "D1 table '" + k->name + "' has no column '" + name + "'");
        return false;
      }
      out.push_back(*d1);
    }
    return true;
  };
  std::vector<std::string> key;
  for (const auto& c : k->table.key)
    if (!config_.tenantColumn || !equalsNoCase(c, *config_.tenantColumn)) key.push_back(c);
  if (key.empty()) {
    refusal = answer(422, "SCHEMA", "D1 table '" + k->name + "' has no primary key to read by");
    return std::nullopt;
  }
  std::optional<std::string> tenant;
  if (config_.tenantColumn) tenant = quoteIdent(*config_.tenantColumn) + "=" + caller.tenantLiteral;
  if (!isNames(r["columns"])) return bad("a read's columns must be 1 to 100 column names");
  std::vector<std::string> columns;
  if (!d1Names(r["columns"], columns)) return std::nullopt;

  if (kind == "rows") {
    const json& after = r["after"];
    if (!after.is_null() && !isKey(after, key.size()))
      return bad("after must be the last key read, as literals");
    const int64_t limit = intField(r, "limit", 0);
    if (limit < 1 || limit > kMaxRowsPerRead)
      return bad("limit must be from 1 to " + std::to_string(kMaxRowsPerRead));
    // Values longer than `inline` come as markers; the client reads them in pieces.
    const int64_t inlineBytes = intField(r, "inline", kMaxInline);
    if (inlineBytes < 1 || inlineBytes > kMaxInline)
      return bad("inline must be from 1 to " + std::to_string(kMaxInline));
    std::string select, order;
    for (const auto& c : columns)
      select += (select.empty() ? "" : ",") +
                literalExpr(quoteIdent(c), static_cast<size_t>(inlineBytes), false);
    for (const auto& c : key) order += (order.empty() ? "" : ",") + quoteIdent(c);
    std::vector<std::string> where;
    if (tenant) where.push_back(*tenant);
    if (!after.is_null())
      where.push_back(key.size() == 1 ? order + ">" + after.get<std::string>()
                                      : "(" + order + ")>(" + after.get<std::string>() + ")");
    std::string w;
    for (const auto& x : where) w += (w.empty() ? " WHERE " : " AND ") + x;
    return "SELECT " + select + " FROM " + quoteIdent(k->name) + w + " ORDER BY " + order +
           " LIMIT " + std::to_string(limit);
  }

  if (kind == "piece") {
    // Bytes of one long value: {"columns":[C],"key":K,"offset":O,"length":N}.
    const int64_t offset = intField(r, "offset", -1), length = intField(r, "length", 0);
    if (columns.size() != 1 || !isKey(r["key"], key.size()) || offset < 0 || length < 1 ||
        length > kMaxPiece)
      return bad(
          "a piece read names one column, a key as literals, an offset >= 0 and a "
          "length from 1 to " +
          std::to_string(kMaxPiece));
    std::string cols;
    for (const auto& c : key) cols += (cols.empty() ? "" : ",") + quoteIdent(c);
    const std::string lits = r["key"].get<std::string>();
    std::string where = key.size() == 1 ? cols + "=" + lits : "(" + cols + ")=(" + lits + ")";
    if (tenant) where = *tenant + " AND " + where;
    return "SELECT hex(substr(CAST(" + quoteIdent(columns[0]) + " AS BLOB)," +
           std::to_string(offset + 1) + "," + std::to_string(length) + ")) FROM " +
           quoteIdent(k->name) + " WHERE " + where;
  }

  VerifyTable vt;
  VerifyRead vr;
  if (kind == "range")
    vr.kind = VerifyRead::Range;
  else if (kind == "list")
    vr.kind = VerifyRead::List;
  else if (kind == "split")
    vr.kind = VerifyRead::Split;
  else if (kind == "fetch")
    vr.kind = VerifyRead::Fetch;
  else
    return bad("no such read: '" + kind + "'");
  vt.table = k->name;
  vt.columns = columns;
  if (!isNames(r["keys"])) return bad("a read's keys must be column names");
  if (!d1Names(r["keys"], vt.keys)) return std::nullopt;
  if (!sameNames(vt.keys, key)) {
    refusal = answer(422, "SCHEMA", "the key of '" + table + "' is not D1's");
    return std::nullopt;
  }
  vt.integerKey = boolField(r, "integerKey", false);
  const std::string seed = textField(r, "seed");
  if (seed.empty() || seed.size() > 20 || seed.find_first_not_of("0123456789") != std::string::npos)
    return bad("seed must be an unsigned integer as text");
  vt.seed = std::strtoull(seed.c_str(), nullptr, 10);
  vt.inlineBlocks = static_cast<int>(intField(r, "inlineBlocks", 1));
  if (vt.inlineBlocks < 1 || vt.inlineBlocks > 4) return bad("inlineBlocks must be from 1 to 4");
  if (!isBound(r["from"], key.size()) || !isBound(r["to"], key.size()))
    return bad("from and to must be keys as literals (a row value for a composite key) or null");
  if (r["from"].is_string()) vr.range.lo = r["from"].get<std::string>();
  if (r["to"].is_string()) vr.range.hi = r["to"].get<std::string>();
  if (vr.kind == VerifyRead::Split) {
    vr.step = intField(r, "step", 0);
    if (vr.step < 1) return bad("step must be a positive integer");
  }
  if (vr.kind == VerifyRead::Fetch) {
    const json& keys = r["fetch"];
    if (!keys.is_array() || keys.empty() || keys.size() > kMaxFetchKeys)
      return bad("fetch must list 1 to " + std::to_string(kMaxFetchKeys) + " keys");
    for (const auto& k2 : keys) {
      if (!isKey(k2, key.size())) return bad("fetch must list keys as literals");
      vr.keys.push_back(k2.get<std::string>());
    }
  }
  std::string sql = verifyD1Statement(vt, tenant, vr);
  if (sql.size() > config_.limits.maxStatementBytes) {
    refusal = answer(413, "LIMIT",
                     "the read's statement would be " + std::to_string(sql.size()) +
                         " bytes, over D1's " + std::to_string(config_.limits.maxStatementBytes));
    return std::nullopt;
  }
  return sql;
}

}  // namespace d1sync
