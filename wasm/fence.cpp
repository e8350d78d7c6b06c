#include "fence.hpp"

#include <cstdlib>

#include "sql_text.hpp"

namespace d1sync {

namespace {

std::string tenantMatch(const FenceId& id) {
  return "tenant_column=" + quoteText(id.tenantColumn) +
         " AND tenant_value=" + quoteText(id.tenantLiteral);
}

}  // namespace

std::string sourceRowQuery(const FenceId& id) {
  return "SELECT incarnation, epoch, applied_seq, last_batch FROM _d1sync_sources WHERE "
         "source_id=" +
         quoteText(id.sourceId);
}

std::vector<std::string> claimStatements(const FenceId& id, int64_t appliedSeq,
                                         const std::string& mark, int64_t nowMs) {
  std::string src = quoteText(id.sourceId);
  std::string ownedElsewhere = id.tenantColumn.empty()
                                   ? std::string("0")
                                   : "EXISTS (SELECT 1 FROM _d1sync_sources WHERE " +
                                         tenantMatch(id) + " AND source_id<>" + src + ")";
  return {
      "CREATE TABLE IF NOT EXISTS _d1sync_sources(source_id TEXT PRIMARY KEY, incarnation TEXT "
      "NOT NULL, epoch INTEGER NOT NULL, applied_seq INTEGER NOT NULL, last_batch TEXT NOT "
      "NULL, tenant_column TEXT NOT NULL, tenant_value TEXT NOT NULL, updated_at INTEGER NOT "
      "NULL)",
      // Claims a free sourceId, or bumps the epoch of our own; another incarnation's row is
      // left alone (the engine then reports FENCED or takes over).
      "INSERT INTO _d1sync_sources SELECT " + src + "," + quoteText(id.incarnation) + ",1," +
          std::to_string(appliedSeq) + "," + quoteText(mark) + "," + quoteText(id.tenantColumn) +
          "," + quoteText(id.tenantLiteral) + "," + std::to_string(nowMs) + " WHERE NOT " +
          ownedElsewhere +
          " ON CONFLICT(source_id) DO UPDATE SET epoch=epoch+1, updated_at=excluded.updated_at "
          "WHERE incarnation=excluded.incarnation",
      sourceRowQuery(id),
      id.tenantColumn.empty() ? "SELECT NULL WHERE 0"
                              : "SELECT source_id FROM _d1sync_sources WHERE " + tenantMatch(id) +
                                    " AND source_id<>" + src + " LIMIT 1",
      "SELECT name, sql FROM sqlite_master WHERE type='table'",
  };
}

std::vector<std::string> takeoverStatements(const FenceId& id, const SourceRow& theirs,
                                            int64_t appliedSeq, const std::string& mark,
                                            int64_t nowMs) {
  return {
      "UPDATE _d1sync_sources SET incarnation=" + quoteText(id.incarnation) +
          ", epoch=epoch+1, applied_seq=" + std::to_string(appliedSeq) +
          ", last_batch=" + quoteText(mark) + ", tenant_column=" + quoteText(id.tenantColumn) +
          ", tenant_value=" + quoteText(id.tenantLiteral) +
          ", updated_at=" + std::to_string(nowMs) + " WHERE source_id=" + quoteText(id.sourceId) +
          " AND incarnation=" + quoteText(theirs.incarnation) +
          " AND epoch=" + std::to_string(theirs.epoch),
      sourceRowQuery(id),
  };
}

std::string guardStatement(const FenceId& id, int64_t epoch, int64_t appliedSeq,
                           const std::string& lastBatch) {
  // A failing json_extract path is the one error SQL can raise outside a trigger on D1, and
  // its message carries the marker the engine classifies as FENCED.
  return "SELECT CASE WHEN (SELECT incarnation=" + quoteText(id.incarnation) +
         " AND epoch=" + std::to_string(epoch) + " AND applied_seq=" + std::to_string(appliedSeq) +
         " AND last_batch=" + quoteText(lastBatch) +
         " FROM _d1sync_sources WHERE source_id=" + quoteText(id.sourceId) +
         ") THEN 1 ELSE json_extract('{}','$d1sync: FENCED') END";
}

std::string freshClaimGuard(const FenceId& id, int64_t appliedSeq, const std::string& claimMark,
                            const std::vector<std::string>& tables) {
  std::string names;
  for (const auto& t : tables) names += (names.empty() ? "" : ",") + quoteText(t);
  // Our incarnation at this claim's mark: the row this claim (or a retry of it) created, not
  // another database's (its INSERT leaves that alone) nor one of ours that batches moved on.
  return "SELECT CASE WHEN (SELECT incarnation=" + quoteText(id.incarnation) +
         " AND applied_seq=" + std::to_string(appliedSeq) +
         " AND last_batch=" + quoteText(claimMark) +
         " FROM _d1sync_sources WHERE source_id=" + quoteText(id.sourceId) +
         ") AND NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name COLLATE NOCASE IN (" + names +
         ")) THEN 1 ELSE json_extract('{}','$d1sync: FENCED') END";
}

std::string advanceStatement(const FenceId& id, int64_t appliedSeq, const std::string& batchId,
                             int64_t nowMs) {
  return "UPDATE _d1sync_sources SET applied_seq=" + std::to_string(appliedSeq) +
         ", last_batch=" + quoteText(batchId) + ", updated_at=" + std::to_string(nowMs) +
         " WHERE source_id=" + quoteText(id.sourceId);
}

SourceRow parseSourceRow(const Rows& rows) {
  SourceRow r;
  if (rows.size() == 0 || rows.columns < 4) return r;
  r.present = true;
  r.incarnation = rows.at(0, 0);
  r.epoch = std::strtoll(rows.at(0, 1).c_str(), nullptr, 10);
  r.appliedSeq = std::strtoll(rows.at(0, 2).c_str(), nullptr, 10);
  r.lastBatch = rows.at(0, 3);
  return r;
}

}  // namespace d1sync
