// Hydrate: an empty local database started from what D1 holds for this source (its tenant's
// rows in shared tables, or every table), so a new device, Durable Object or file continues
// the partition with nothing sent again and nothing lost.
//
// After the claim (and the takeover that usually goes with it: the old owner is fenced, so
// D1's rows for this partition no longer move), one request lists D1's tables and their local
// definitions (hydrate_ddl.hpp) are created. Then each table is read from D1 in key order, a
// page per request, every value as an exact literal rendered by D1's own SQLite (render.hpp),
// checked against the changeset grammar before it touches the local database, and written in
// one local transaction per page. Capture is installed, and every table marked copied (Live),
// in the transaction that ends the hydrate, so replication starts from exactly that state and
// nothing hydrate wrote is sent back. Writes the application makes to those tables before the
// hydrate ends are not captured: hosts finish the hydrate before start() returns. Through a
// sync endpoint (Options::remote) the same reads go as its "read" requests (the endpoint
// renders the literals and adds its tenant).
#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "changeset.hpp"
#include "d1_tables.hpp"
#include "engine.hpp"
#include "hydrate_ddl.hpp"
#include "render.hpp"
#include "sql_text.hpp"
#include "sync_protocol.hpp"

namespace d1sync {
namespace {

bool isOwnTable(const std::string& name) {
  return startsWithNoCase(name, "_d1sync_") || startsWithNoCase(name, "_cf_") ||
         startsWithNoCase(name, "sqlite_");
}

std::string joined(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

}  // namespace

bool Engine::startHydrate() {
  auto r = local_.exec(
      "SELECT group_concat(name, ', ') FROM sqlite_master WHERE type='table' AND "
      "substr(name,1,8)<>'_d1sync_' AND substr(name,1,7)<>'sqlite_' AND substr(name,1,4)<>'_cf_'");
  if (localFailed("reading the local schema", r)) return false;
  if (r.rows.size() == 1 && !r.rows.isNull(0, 0)) {
    fail(ErrorCode::Config,
         "hydrate needs an empty local database; this one has tables: " + r.rows.at(0, 0));
    return false;
  }
  state_.hydrate = HydrateState{};
  state_.hydrate.active = true;
  return true;
}

std::optional<Table> Engine::hydratedTable(const std::string& name) {
  auto master = local_.exec(masterQuery());
  if (localFailed("reading the local schema", master)) return std::nullopt;
  const auto entries = parseMaster(master.rows);
  for (const auto& e : entries) {
    if (e.type != "table" || e.name != name) continue;
    std::string error;
    auto t = readTable(local_, e, entries, error);
    if (!t) recordError(ErrorCode::Internal, "reading " + name + ": " + error);
    return t;
  }
  fail(ErrorCode::Internal, "hydrate: the local table " + name + " is gone");
  return std::nullopt;
}

std::optional<Step> Engine::hydrateStep(int64_t nowMs) {
  HydrateState& h = state_.hydrate;
  if (!h.listed) {
    // Through a sync endpoint: its allowed tables, as D1 defines them (its tenant's indexes
    // stay in D1, as below).
    if (options_.remote)
      return sendRemote(
          Flight::Hydrate, sync_protocol::kRead,
          readRequest(state_.sourceId, fenceId_.incarnation, {"{\"kind\":\"tables\"}"}));
    std::vector<std::string> list = {
        "SELECT name, sql FROM sqlite_master WHERE type='table' AND sql IS NOT NULL AND "
        "substr(name,1,8)<>'_d1sync_' AND substr(name,1,4)<>'_cf_' AND substr(name,1,7)<>"
        "'sqlite_' ORDER BY name",
        "SELECT tbl_name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND "
        "substr(tbl_name,1,8)<>'_d1sync_' AND substr(tbl_name,1,4)<>'_cf_' ORDER BY name"};
    return send(Flight::Hydrate, std::move(list));
  }
  if (h.tables.empty()) {
    if (!finishHydrate()) {
      if (phase_ == Phase::Failed) return fail(fatal_.code, fatal_.message);
      return backoffStep(nowMs);
    }
    return std::nullopt;
  }
  auto t = hydratedTable(h.tables.front());
  if (!t) {
    if (phase_ == Phase::Failed) return fail(fatal_.code, fatal_.message);
    return backoffStep(nowMs);
  }
  // A page waiting for its long values: their next pieces, or, once all are here, written.
  if (hydrateHeld_) {
    if (auto s = hydratePieceStep(*t)) return *s;
    const Rows held = *hydrateHeld_;
    hydratePage(held);
    if (phase_ == Phase::Failed) return fail(fatal_.code, fatal_.message);
    if (hydrateHeld_) return backoffStep(nowMs);  // the write failed: retried
    return hydrateStep(nowMs);
  }
  if (options_.remote) {
    // The same page, named for the endpoint: it renders the literals and adds the tenant.
    nlohmann::json read = {{"kind", "rows"},
                           {"table", t->name},
                           {"limit", hydratePageLimit()},
                           {"inline", options_.limits.inlineValueBytes}};
    read["columns"] = nlohmann::json::array();
    if (t->keyKind == KeyKind::Rowid) read["columns"].push_back(t->d1RowidColumn);
    for (size_t i : t->tupleOrder()) read["columns"].push_back(t->columns[i].name);
    read["after"] = state_.hydrate.after ? nlohmann::json(*state_.hydrate.after) : nlohmann::json();
    return sendRemote(Flight::Hydrate, sync_protocol::kRead,
                      readRequest(state_.sourceId, fenceId_.incarnation, {read.dump()}));
  }
  return send(Flight::Hydrate, {hydratePageQuery(*t)});
}

size_t Engine::hydratePageLimit() {
  // Sized by the bytes rows turned out to have, like the copy reader's slices.
  const Limits& L = options_.limits;
  const size_t perRow = std::max<size_t>(1, hydrateRowBytes_);
  const size_t rows = std::clamp<size_t>(L.pageBytes / perRow, 1, L.copyPageRows);
  hydrateLimit_ = hydrateRowBytes_ ? rows : std::min<size_t>(rows, 256);
  return hydrateLimit_;
}

std::string Engine::hydratePageQuery(const Table& t) {
  std::vector<std::string> keyCols, exprs;
  if (t.keyKind == KeyKind::Rowid) {
    keyCols.push_back(quoteIdent(t.d1RowidColumn));
    exprs.push_back("CAST(" + quoteIdent(t.d1RowidColumn) + " AS TEXT)");
  } else {
    for (const auto& k : t.keyColumnNames()) keyCols.push_back(quoteIdent(k));
  }
  // Values over the inline size come as markers and are read in pieces (hydrate_values.cpp),
  // so no row outgrows a local statement (100 KB in a Durable Object).
  for (size_t i : t.tupleOrder())
    exprs.push_back(
        literalExpr(quoteIdent(t.columns[i].name), options_.limits.inlineValueBytes, false));
  std::vector<std::string> where;
  if (shape_.tenant)
    where.push_back(quoteIdent(shape_.tenant->column) + "=" + shape_.tenant->literal);
  if (state_.hydrate.after) {
    const std::string cols = joined(keyCols, ",");
    where.push_back(keyCols.size() == 1 ? cols + ">" + *state_.hydrate.after
                                        : "(" + cols + ")>(" + *state_.hydrate.after + ")");
  }
  hydratePageLimit();
  return "SELECT " + joined(exprs, ",") + " FROM " + quoteIdent(t.name) +
         (where.empty() ? "" : " WHERE " + joined(where, " AND ")) + " ORDER BY " +
         joined(keyCols, ",") + " LIMIT " + std::to_string(hydrateLimit_);
}

void Engine::onHydrate(const BatchResult& r, int64_t nowMs) {
  if (!r.ok || r.results.empty()) {
    retryAfter(r.ok ? D1Failure::Other : r.failure.kind,
               r.ok ? "hydrate: D1 answered no rows" : r.failure.message, nowMs);
    return;
  }
  backoff_.reset();
  if (!hydratePieces_.empty()) {
    onHydratePieces(r);
  } else if (!state_.hydrate.listed) {
    hydrateListing(r);
  } else {
    hydratePage(r.results[0]);
  }
}

void Engine::hydrateListing(const BatchResult& r) {
  HydrateState& h = state_.hydrate;
  const Rows& tables = r.results[0];
  std::vector<std::string> names;
  for (size_t i = 0; i < tables.size(); ++i) {
    const std::string& name = tables.at(i, 0);
    const std::string& sql = tables.at(i, 1);
    if (isOwnTable(name)) continue;
    if (options_.tables && !containsNoCase(*options_.tables, name)) continue;
    // A shared table without this source's tenant column holds nothing of this partition.
    if (shape_.tenant && !containsNoCase(parseD1Table(sql).columns, shape_.tenant->column))
      continue;
    LocalDdl ddl = localDdlFromD1(
        sql, name, shape_.tenant ? std::optional(shape_.tenant->column) : std::nullopt);
    if (!ddl.error.empty()) {
      fail(ErrorCode::Schema, "hydrate: " + ddl.error);
      return;
    }
    auto made = local_.exec(ddl.sql);
    if (localFailed("hydrate: creating " + name, made)) return;
    names.push_back(name);
    h.d1Sql[name] = sql;
  }
  // D1's indexes come along where they name this table's columns only (not a tenant's).
  if (r.results.size() > 1 && !shape_.tenant) {
    const Rows& indexes = r.results[1];
    for (size_t i = 0; i < indexes.size(); ++i) {
      if (!containsNoCase(names, indexes.at(i, 0))) continue;
      auto made = local_.exec(indexes.at(i, 1));
      if (localFailed("hydrate: creating an index on " + indexes.at(i, 0), made)) return;
    }
  }
  h.tables.assign(names.begin(), names.end());
  h.listed = true;
  if (!persist())
    recordError(ErrorCode::Internal, "hydrate: saving its progress: " + lastLocalError_);
}

void Engine::hydratePage(const Rows& rows) {
  if (!hydrateHeld_ && holdForBigValues(rows)) return;
  HydrateState& h = state_.hydrate;
  const std::string name = h.tables.front();
  auto t = hydratedTable(name);
  if (!t) return;
  const bool rowid = t->keyKind == KeyKind::Rowid;
  const size_t width = rows.columns;
  const size_t keyWidth = t->keySize();
  std::vector<std::string> cols;
  if (rowid) cols.push_back(t->rowidName);
  for (size_t i : t->tupleOrder()) cols.push_back(quoteIdent(t->columns[i].name));
  // A host reports no columns for an empty result (a binding's rows carry the names).
  if (rows.size() && width != cols.size()) {
    fail(ErrorCode::Internal, "hydrate: D1 answered " + std::to_string(width) + " columns for " +
                                  name + ", expected " + std::to_string(cols.size()));
    return;
  }
  const std::string head =
      "INSERT INTO " + quoteIdent(name) + "(" + joined(cols, ",") + ") VALUES ";
  std::string sql, lastKey;
  size_t bytes = 0;
  auto flush = [&]() {
    if (sql.empty()) return true;
    // A page written again (its progress was not saved) finds its rows there already.
    auto w = local_.exec(sql + " ON CONFLICT DO NOTHING");
    sql.clear();
    return !localFailed("hydrate: writing " + name, w);
  };
  for (size_t row = 0; row < rows.size(); ++row) {
    std::string tuple = "(";
    for (size_t c = 0; c < width; ++c) {
      if (rows.isNull(row, c)) {
        fail(ErrorCode::Internal, "hydrate: D1 answered no literal for a value of " + name);
        return;
      }
      // A long value (read in pieces by now) goes in empty, then is appended to.
      if (auto big = parseBigMarker(rows.at(row, c))) {
        tuple += (c ? "," : "") + std::string(big->text ? "''" : "X''");
        continue;
      }
      tuple += (c ? "," : "") + rows.at(row, c);
    }
    tuple += ")";
    bytes += tuple.size();
    // Values D1 rendered are literals of the changeset grammar; nothing else is spliced in.
    if (auto st = checkTuple(tuple, width, rowid); !st.ok()) {
      fail(ErrorCode::Internal, "hydrate: D1 answered a row of " + name +
                                    " that is not a row of literals: " + st.message);
      return;
    }
    if (!sql.empty() && sql.size() + tuple.size() + 1 > options_.limits.localStatementBytes &&
        !flush())
      return;
    sql += sql.empty() ? head + tuple : "," + tuple;
    std::vector<std::string> key;
    for (size_t c = 0; c < keyWidth; ++c) key.push_back(rows.at(row, c));
    lastKey = joined(key, ",");
  }
  if (!flush()) return;
  if (!hydrateBig_.empty() && !writeBigValues(*t, rows, cols)) return;
  hydrateHeld_.reset();
  hydrateBig_.clear();
  if (!rows.size())
    hydrateRowBytes_ = 0;
  else
    hydrateRowBytes_ = std::max<size_t>(1, bytes / rows.size());
  h.rows += static_cast<int64_t>(rows.size());
  if (rows.size() < hydrateLimit_) {
    h.tables.pop_front();
    h.after.reset();
    hydrateRowBytes_ = 0;
  } else {
    h.after = lastKey;
  }
  if (!persist())
    recordError(ErrorCode::Internal, "hydrate: saving its progress: " + lastLocalError_);
}

bool Engine::finishHydrate() {
  HydrateState& h = state_.hydrate;
  for (const auto& [name, sql] : h.d1Sql) {
    auto t = hydratedTable(name);
    if (!t) return false;
    auto n = local_.exec("SELECT count(*) FROM " + quoteIdent(name));
    if (localFailed("hydrate: counting " + name, n)) return false;
    if (!installCapture(*t)) return false;
    TableState ts;
    ts.sql = t->sql;
    ts.phase = TablePhase::Live;
    if (!reconcileD1Table(*t, ts, sql)) return false;
    ts.copied = ts.total = std::strtoll(n.rows.at(0, 0).c_str(), nullptr, 10);
    state_.tables[name] = ts;
  }
  state_.counters.rowsHydrated = h.rows;
  h = HydrateState{};
  // A takeover asks for every table to be recopied, converging D1's rows to the new owner's;
  // here the new owner's rows are D1's.
  resyncAll_ = false;
  resyncRequests_.clear();
  return persist();
}

}  // namespace d1sync
