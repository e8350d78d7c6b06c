// Requests a user makes between syncs: resync, re-sending quarantined changes, uninstalling,
// inspecting the state without replicating.
#include "engine.hpp"
#include "render.hpp"
#include "sql_text.hpp"

namespace d1sync {

Status Engine::retryQuarantined(int64_t nowMs) {
  auto r = local_.exec("INSERT INTO _d1sync_log(tbl, op, key, at_ms) SELECT tbl, 'Q', key, " +
                       std::to_string(nowMs) +
                       " FROM _d1sync_quarantine ORDER BY id; DELETE FROM _d1sync_quarantine");
  if (!r.ok) {
    quarantined_ = -1;  // recounted when next asked
    return {ErrorCode::Internal, "re-queueing quarantined changes: " + r.error};
  }
  quarantined_ = 0;
  return {};
}

Status Engine::inspect() {
  if (loaded_ || phase_ != Phase::Init) return fatal_;
  // loadState() only reads; a database that never replicated has no state to read.
  auto r = local_.exec("SELECT count(*) FROM sqlite_master WHERE name='_d1sync_state'");
  if (!r.ok) return {ErrorCode::Internal, "reading the schema: " + r.error};
  if (r.rows.size() != 1 || r.rows.at(0, 0) != "1")
    return {ErrorCode::Config, "this database has not replicated yet"};
  if (!loadState()) return fatal_.ok() ? Status{ErrorCode::Internal, lastLocalError_} : fatal_;
  inspected_ = true;
  return {};
}

Status Engine::resync(const std::string& table) {
  if (table.empty()) {
    resyncAll_ = true;
    return {};
  }
  if (!state_.tables.count(table))
    return {ErrorCode::Config, "resync: '" + table + "' is not a replicated table"};
  resyncRequests_.insert(table);
  return {};
}

Status Engine::uninstall() {
  if (flight_ != Flight::None) return {ErrorCode::Config, "uninstall: a D1 request is in flight"};
  // Every trigger named _d1sync_* is ours, including those of tables no longer replicated or
  // not yet read (an engine that failed before reading the schema can still uninstall).
  auto triggers = local_.exec(
      "SELECT name FROM sqlite_master WHERE type='trigger' AND substr(name,1,8)='_d1sync_' AND "
      "substr(tbl_name,1,8)<>'_d1sync_'");
  if (!triggers.ok)
    return {ErrorCode::Internal, "uninstall: reading the triggers: " + triggers.error};
  std::string sql;
  for (size_t i = 0; i < triggers.rows.size(); ++i)
    sql += "DROP TRIGGER IF EXISTS " + quoteIdent(triggers.rows.at(i, 0)) + ";";
  sql +=
      "DROP TABLE IF EXISTS _d1sync_log; DROP TABLE IF EXISTS _d1sync_state; "
      "DROP TABLE IF EXISTS _d1sync_tables; DROP TABLE IF EXISTS _d1sync_quarantine";
  auto r = local_.exec(sql);
  if (!r.ok) return {ErrorCode::Internal, "uninstall: " + r.error};
  state_ = State{};
  persisted_.clear();
  persistedTables_.reset();
  quarantined_ = -1;
  loaded_ = false;
  tables_.clear();
  page_.reset();
  needProbe_ = false;
  schemaReady_ = false;
  retryAtMs_ = 0;
  fatal_ = {};
  phase_ = Phase::Init;
  return {};
}

}  // namespace d1sync
