#include "state.hpp"
#include "json_fields.hpp"

#include <nlohmann/json.hpp>

namespace d1sync {

using json = nlohmann::json;

const char* phaseName(TablePhase p) {
  switch (p) {
    case TablePhase::Create:
      return "create";
    case TablePhase::Copy:
      return "copy";
    case TablePhase::Swap:
      return "swap";
    case TablePhase::Live:
      return "live";
  }
  return "create";
}

namespace {

TablePhase phaseFrom(const std::string& s) {
  if (s == "copy") return TablePhase::Copy;
  if (s == "swap") return TablePhase::Swap;
  if (s == "live") return TablePhase::Live;
  return TablePhase::Create;
}

// Reads a member without aborting on a missing key or a wrong type (exceptions are off).
template <typename T>
T get(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->template get<std::string>() : fallback;
  } else if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->template get<bool>() : fallback;
  } else if constexpr (std::is_floating_point_v<T>) {
    return it->is_number() ? it->template get<T>() : fallback;
  } else {
    // A float out of the integer's range would be undefined behaviour to convert.
    return it->is_number_integer() ? it->template get<T>() : fallback;
  }
}

void readStrings(const json& j, const char* key, std::vector<std::string>& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
}

json optional(const std::optional<std::string>& v) {
  return v ? json(*v) : json(nullptr);
}

std::optional<std::string> optionalFrom(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

json rangesJson(const std::deque<KeyRange>& ranges) {
  json out = json::array();
  for (const auto& r : ranges)
    out.push_back(
        {{"low", optional(r.low)}, {"upto", optional(r.upto)}, {"high", optional(r.high)}});
  return out;
}

KeyRange rangeFrom(const json& j) {
  KeyRange r;
  if (!j.is_object()) return r;
  r.low = optionalFrom(j, "low");
  r.upto = optionalFrom(j, "upto");
  r.high = optionalFrom(j, "high");
  return r;
}

json tableJson(const TableState& t) {
  return {{"sql", t.sql},
          {"columns", t.columns},
          {"key", t.key},
          {"indexes", t.indexes},
          {"phase", phaseName(t.phase)},
          {"shadow", t.shadow},
          {"dropFirst", t.dropFirst},
          {"copyStarted", t.copyStarted},
          {"ranges", rangesJson(t.ranges)},
          {"copied", t.copied},
          {"total", t.total},
          {"maxRowid", t.maxRowid},
          {"recopy", t.recopy}};
}

TableState tableFrom(const json& j) {
  TableState t;
  t.sql = get<std::string>(j, "sql", "");
  readStrings(j, "columns", t.columns);
  readStrings(j, "key", t.key);
  readStrings(j, "indexes", t.indexes);
  t.phase = phaseFrom(get<std::string>(j, "phase", "create"));
  t.shadow = get<bool>(j, "shadow", false);
  t.dropFirst = get<bool>(j, "dropFirst", false);
  t.copyStarted = get<bool>(j, "copyStarted", false);
  auto ranges = j.find("ranges");
  if (ranges != j.end() && ranges->is_array()) {
    for (const auto& r : *ranges) t.ranges.push_back(rangeFrom(r));
  } else if (t.copyStarted) {
    // An older document kept one cursor: the full copy's one range.
    KeyRange r;
    if (get<bool>(j, "hasCursor", false)) r.low = get<std::string>(j, "cursor", "");
    if (get<bool>(j, "bounded", false)) r.upto = get<std::string>(j, "upto", "");
    t.ranges.push_back(std::move(r));
  }
  t.copied = get<int64_t>(j, "copied", 0);
  t.total = get<int64_t>(j, "total", 0);
  t.maxRowid = get<std::string>(j, "maxRowid", "");
  t.recopy = get<bool>(j, "recopy", false);
  return t;
}

}  // namespace

std::string tableStateToJson(const TableState& t) {
  return tableJson(t).dump();
}

bool tableStateFromJson(const std::string& text, TableState& t) {
  json j = parseJson(text);
  if (j.is_discarded() || !j.is_object()) return false;
  t = tableFrom(j);
  return true;
}

std::string stateToJson(const State& s, bool withTables) {
  json tables = json::object();
  if (withTables)
    for (const auto& [name, t] : s.tables) tables[name] = tableJson(t);
  const Counters& c = s.counters;
  json counters = {{"totalSyncs", c.totalSyncs},
                   {"syncErrors", c.syncErrors},
                   {"retries", c.retries},
                   {"rowsReplicated", c.rowsReplicated},
                   {"statementsSent", c.statementsSent},
                   {"batchesSent", c.batchesSent},
                   {"bytesSent", c.bytesSent},
                   {"d1RowsRead", c.d1RowsRead},
                   {"d1RowsWritten", c.d1RowsWritten},
                   {"rowsHydrated", c.rowsHydrated},
                   {"lastVerifiedAt", c.lastVerifiedAt},
                   {"lastVerifyEqual", c.lastVerifyEqual},
                   {"lastVerifyDifferences", c.lastVerifyDifferences},
                   {"lastSyncAt", c.lastSyncAt},
                   {"lastSuccessAt", c.lastSuccessAt},
                   {"syncSecondsSum", c.syncSecondsSum},
                   {"lastError", c.lastError},
                   {"lastErrorCode", c.lastErrorCode}};
  json doc = {{"version", 1},
              {"sourceId", s.sourceId},
              {"incarnation", s.incarnation},
              {"epoch", s.epoch},
              {"appliedSeq", s.appliedSeq},
              {"lastBatch", s.lastBatch},
              {"pendingBatch", s.pendingBatch},
              {"pendingAhead", s.pendingAhead},
              {"pendingClaim", s.pendingClaim},
              {"batchCounter", s.batchCounter},
              {"everClaimed", s.everClaimed},
              {"counters", counters}};
  if (withTables) doc["tables"] = tables;
  if (s.hydrate.active) {
    const HydrateState& h = s.hydrate;
    doc["hydrate"] = {{"listed", h.listed},
                      {"tables", json(std::vector<std::string>(h.tables.begin(), h.tables.end()))},
                      {"d1Sql", h.d1Sql},
                      {"after", h.after ? json(*h.after) : json(nullptr)},
                      {"rows", h.rows}};
  }
  return doc.dump();
}

bool stateFromJson(const std::string& text, State& s) {
  json doc = parseJson(text);
  if (doc.is_discarded() || !doc.is_object() || get<int>(doc, "version", 0) != 1) return false;
  State out;
  out.sourceId = get<std::string>(doc, "sourceId", "");
  out.incarnation = get<std::string>(doc, "incarnation", "");
  out.epoch = get<int64_t>(doc, "epoch", 0);
  out.appliedSeq = get<int64_t>(doc, "appliedSeq", 0);
  out.lastBatch = get<std::string>(doc, "lastBatch", "");
  out.pendingBatch = get<std::string>(doc, "pendingBatch", "");
  out.pendingAhead = get<std::string>(doc, "pendingAhead", "");
  out.pendingClaim = get<std::string>(doc, "pendingClaim", "");
  out.batchCounter = get<int64_t>(doc, "batchCounter", 0);
  out.everClaimed = get<bool>(doc, "everClaimed", false);
  auto tables = doc.find("tables");
  if (tables != doc.end() && tables->is_object()) {
    for (auto it = tables->begin(); it != tables->end(); ++it) {
      const json& j = it.value();
      if (!j.is_object()) continue;
      TableState t = tableFrom(j);
      out.tables[it.key()] = std::move(t);
    }
  }
  auto c = doc.find("counters");
  if (c != doc.end() && c->is_object()) {
    Counters& k = out.counters;
    k.totalSyncs = get<int64_t>(*c, "totalSyncs", 0);
    k.syncErrors = get<int64_t>(*c, "syncErrors", 0);
    k.retries = get<int64_t>(*c, "retries", 0);
    k.rowsReplicated = get<int64_t>(*c, "rowsReplicated", 0);
    k.statementsSent = get<int64_t>(*c, "statementsSent", 0);
    k.batchesSent = get<int64_t>(*c, "batchesSent", 0);
    k.bytesSent = get<int64_t>(*c, "bytesSent", 0);
    k.d1RowsRead = get<int64_t>(*c, "d1RowsRead", 0);
    k.d1RowsWritten = get<int64_t>(*c, "d1RowsWritten", 0);
    k.rowsHydrated = get<int64_t>(*c, "rowsHydrated", 0);
    k.lastVerifiedAt = get<int64_t>(*c, "lastVerifiedAt", 0);
    k.lastVerifyEqual = get<bool>(*c, "lastVerifyEqual", false);
    k.lastVerifyDifferences = get<int64_t>(*c, "lastVerifyDifferences", 0);
    k.lastSyncAt = get<int64_t>(*c, "lastSyncAt", 0);
    k.lastSuccessAt = get<int64_t>(*c, "lastSuccessAt", 0);
    k.syncSecondsSum = get<double>(*c, "syncSecondsSum", 0);
    k.lastError = get<std::string>(*c, "lastError", "");
    k.lastErrorCode = get<std::string>(*c, "lastErrorCode", "");
  }
  auto h = doc.find("hydrate");
  if (h != doc.end() && h->is_object()) {
    HydrateState& hs = out.hydrate;
    hs.active = true;
    hs.listed = get<bool>(*h, "listed", false);
    hs.rows = get<int64_t>(*h, "rows", 0);
    auto list = h->find("tables");
    if (list != h->end() && list->is_array())
      for (const auto& name : *list)
        if (name.is_string()) hs.tables.push_back(name.get<std::string>());
    auto sqls = h->find("d1Sql");
    if (sqls != h->end() && sqls->is_object())
      for (auto it = sqls->begin(); it != sqls->end(); ++it)
        if (it.value().is_string()) hs.d1Sql[it.key()] = it.value().get<std::string>();
    auto after = h->find("after");
    if (after != h->end() && after->is_string()) hs.after = after->get<std::string>();
  }
  s = std::move(out);
  return true;
}

}  // namespace d1sync
