// Requests a user makes between syncs: resync, re-sending quarantined changes, uninstalling.
#include "capture.hpp"
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
  std::string sql;
  for (const auto& [name, t] : state_.tables)
    for (const auto& s : dropCaptureDdl(name)) sql += s + ";";
  for (const auto& t : tables_)
    for (const auto& s : dropCaptureDdl(t.name)) sql += s + ";";
  sql +=
      "DROP TABLE IF EXISTS _d1sync_log; DROP TABLE IF EXISTS _d1sync_state; "
      "DROP TABLE IF EXISTS _d1sync_quarantine";
  auto r = local_.exec(sql);
  if (!r.ok) return {ErrorCode::Internal, "uninstalling: " + r.error};
  state_ = State{};
  persisted_.clear();
  quarantined_ = -1;
  loaded_ = false;
  tables_.clear();
  phase_ = Phase::Init;
  return {};
}

}  // namespace d1sync
