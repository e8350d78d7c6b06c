#include <functional>
#include <nlohmann/json.hpp>

#include "engine.hpp"
#include "json_fields.hpp"
#include "sql_text.hpp"

namespace d1sync {

using json = nlohmann::json;

namespace {

// Reads a positive integer limit; returns an error message or empty.
std::string readLimit(const json& limits, const char* name, int64_t max, int64_t& out) {
  auto it = limits.find(name);
  if (it == limits.end() || it->is_null()) return {};
  if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > max)
    return std::string("limits.") + name + " must be a positive integer no larger than " +
           std::to_string(max);
  out = it->get<int64_t>();
  return {};
}

// The `limits` option: its names (the public ones, in js/index.d.ts), their largest values and
// what they set. The one list of them; limitNames() hands it to the package's tests.
struct LimitField {
  const char* name;
  int64_t max;
  void (*set)(Limits&, int64_t);
};
const LimitField kLimitFields[] = {
    {"statementBytes", 100000, [](Limits& L, int64_t v) { L.maxStatementBytes = v; }},
    {"boundParameters", 100,
     [](Limits& L, int64_t v) { L.maxBoundParameters = static_cast<int>(v); }},
    {"columns", 100, [](Limits& L, int64_t v) { L.maxColumns = static_cast<int>(v); }},
    {"rowBytes", 2000000, [](Limits& L, int64_t v) { L.maxRowBytes = v; }},
    {"vdbeOps", 21504, [](Limits& L, int64_t v) { L.vdbeOps = static_cast<int>(v); }},
    {"statementsPerBatch", 50000,
     [](Limits& L, int64_t v) { L.maxStatementsPerBatch = static_cast<int>(v); }},
    {"batchBytes", 100000000, [](Limits& L, int64_t v) { L.maxBatchBytes = v; }},
    {"batchTimeMs", 30000, [](Limits& L, int64_t v) { L.batchTimeBudgetMs = v; }},
    {"queriesPerInvocation", 1000000,
     [](Limits& L, int64_t v) { L.queriesPerInvocation = static_cast<int>(v); }},
    {"pageChanges", 1000000, [](Limits& L, int64_t v) { L.pageChanges = v; }},
    {"copyPageRows", 1000000, [](Limits& L, int64_t v) { L.copyPageRows = v; }},
    {"pageBytes", 100000000, [](Limits& L, int64_t v) { L.pageBytes = v; }},
};

}  // namespace

std::vector<std::string> limitNames() {
  std::vector<std::string> out;
  for (const auto& f : kLimitFields) out.push_back(f.name);
  return out;
}

namespace {

std::string parseTables(const json& tables, Options& o) {
  if (tables.is_null()) return {};
  if (!tables.is_array()) return "tables must be an array of table names";
  std::vector<std::string> names;
  for (const auto& t : tables) {
    if (!t.is_string() || t.get<std::string>().empty()) return "tables must hold table names";
    names.push_back(t.get<std::string>());
  }
  o.tables = names;
  return {};
}

std::string parseTenant(const json& tenant, Options& o) {
  if (tenant.is_null()) return {};
  if (!tenant.is_object()) return "tenant must be { column, value }";
  auto col = tenant.find("column");
  auto val = tenant.find("value");
  if (col == tenant.end() || !col->is_string() || col->get<std::string>().empty())
    return "tenant.column must be a non-empty string";
  o.tenantColumn = col->get<std::string>();
  if (val != tenant.end() && val->is_string()) {
    o.tenantLiteral = quoteText(val->get<std::string>());
  } else if (val != tenant.end() && val->is_number_integer()) {
    o.tenantLiteral = std::to_string(val->get<int64_t>());
  } else {
    return "tenant.value must be a string or an integer";
  }
  return {};
}

std::string parseLimits(const json& limits, Limits& L) {
  if (limits.is_null()) return {};
  if (!limits.is_object()) return "limits must be an object";
  for (const auto& f : kLimitFields) {
    int64_t v = 0;
    std::string err = readLimit(limits, f.name, f.max, v);
    if (!err.empty()) return err;
    if (v) f.set(L, v);
  }
  for (auto it = limits.begin(); it != limits.end(); ++it) {
    bool known = false;
    for (const auto& f : kLimitFields) known = known || it.key() == f.name;
    if (!known) return "limits." + it.key() + " is not a known limit";
  }
  return {};
}

std::string parseScalars(const json& j, Options& o) {
  auto schema = j.find("schema");
  if (schema != j.end() && !schema->is_null()) {
    if (*schema == "replica")
      o.schema = SchemaMode::Replica;
    else if (*schema == "strict")
      o.schema = SchemaMode::Strict;
    else
      return "schema must be 'replica' or 'strict'";
  }
  auto hydrate = j.find("hydrate");
  if (hydrate != j.end() && !hydrate->is_null()) {
    if (!hydrate->is_boolean()) return "hydrate must be true or false";
    o.hydrate = hydrate->get<bool>();
  }
  auto takeover = j.find("takeover");
  if (takeover != j.end() && !takeover->is_null()) {
    if (!takeover->is_boolean()) return "takeover must be true or false";
    o.takeover = takeover->get<bool>();
  }
  auto remote = j.find("remote");
  if (remote != j.end() && !remote->is_null()) {
    if (!remote->is_boolean()) return "remote must be true or false";
    o.remote = remote->get<bool>();
  }
  auto ahead = j.find("lookAhead");
  if (ahead != j.end() && !ahead->is_null()) {
    if (!ahead->is_number_integer() || ahead->get<int64_t>() < 0 || ahead->get<int64_t>() > 2)
      return "lookAhead must be 0, 1 or 2 (0: each batch read once the one before is answered; "
             "1: read while it is in flight; 2: also sent before its answer)";
    o.lookAhead = static_cast<int>(ahead->get<int64_t>());
  }
  auto log = j.find("log");
  if (log != j.end() && !log->is_null()) {
    if (!log->is_string() || !parseLogLevel(log->get<std::string>(), o.log))
      return "log must be 'warn', 'info', 'debug' or false";
  }
  auto seed = j.find("seed");
  if (seed != j.end() && seed->is_number_unsigned()) o.seed = seed->get<uint64_t>();
  auto retry = j.find("flushRetryMs");
  if (retry != j.end() && !retry->is_null()) {
    if (!retry->is_number_integer() || retry->get<int64_t>() < 0 ||
        retry->get<int64_t>() > kMaxFlushRetryMs)
      return "flushRetryMs must be a whole number of ms from 0 to " +
             std::to_string(kMaxFlushRetryMs) + " (a day)";
    o.flushRetryMs = retry->get<int64_t>();
  }
  return {};
}

}  // namespace

std::string parseOptions(const std::string& text, Options& o) {
  json j = parseJson(text);
  if (j.is_discarded() || !j.is_object()) return "options must be a JSON object";
  auto sid = j.find("sourceId");
  if (sid == j.end() || !sid->is_string() || sid->get<std::string>().empty())
    return "sourceId must be a non-empty string";
  o.sourceId = sid->get<std::string>();
  if (o.sourceId.size() > 512) return "sourceId is longer than 512 bytes";
  const json none;
  auto part = [&](const char* key) -> const json& {
    auto it = j.find(key);
    return it == j.end() ? none : *it;
  };
  for (auto err : {parseTables(part("tables"), o), parseTenant(part("tenant"), o),
                   parseScalars(j, o), parseLimits(part("limits"), o.limits)})
    if (!err.empty()) return err;
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const char* const kKnown[] = {"sourceId", "tables",  "tenant",    "schema",
                                         "takeover", "hydrate", "seed",      "flushRetryMs",
                                         "limits",   "remote",  "lookAhead", "log"};
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) return "unknown option '" + it.key() + "'";
  }
  return {};
}

}  // namespace d1sync
