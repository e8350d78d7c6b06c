// The engine's flights through a sync endpoint (sync_protocol.hpp) instead of SQL on D1: the
// claim, takeover and probe as JSON requests, each job as the changeset of its records. The
// endpoint owns D1's schema and the tenant, so no DDL is ever sent: a table or column D1 lacks
// stops the engine with SCHEMA, naming it, for the application's migrations to add.
#include <algorithm>

#include "engine.hpp"
#include "sql_text.hpp"
#include "sync_protocol.hpp"

namespace d1sync {

Step Engine::sendRemote(Flight kind, const char* op, std::string request) {
  Step s = send(kind, {});
  s.batch.op = op;
  s.batch.request = std::move(request);
  return s;
}

Step Engine::sendRemoteJob(const Job& job, const std::string& batchId, int64_t applied,
                           int64_t nowMs) {
  ChangesetHeader h = page_->changes.header;
  h.incarnation = fenceId_.incarnation;
  h.epoch = state_.epoch;
  h.appliedSeq = h.fromSeq = state_.appliedSeq;
  h.lastBatch = state_.lastBatch;
  h.uptoSeq = applied;
  h.batchId = batchId;
  Changeset part;
  std::string body;
  ChangesetStatus st = jobChangeset(job, page_->changes, h, part);
  if (st.ok()) st = encodeChangeset(part, body);
  if (!st.ok()) return fail(ErrorCode::Internal, "a batch for the sync endpoint: " + st.message);
  flightInfo_ = {batchId, 1, body.size(), static_cast<int64_t>(job.rows()), nowMs, {body.size()}};
  return sendRemote(Flight::Job, sync_protocol::kApply, std::move(body));
}

// The endpoint's tenant column (which D1's keys lead with and the local tables lack) and its
// request limits, which the planner then keeps every job within.
bool Engine::adoptEndpoint(const BatchResult& claim) {
  if (claim.results.size() <= sync_protocol::kClaimEndpointResult ||
      claim.results[sync_protocol::kClaimEndpointResult].size() != 1) {
    fail(ErrorCode::Internal, "the sync endpoint's claim answer lacks its tenant and limits");
    return false;
  }
  const Rows& e = claim.results[sync_protocol::kClaimEndpointResult];
  if (e.isNull(0, 0))
    shape_.tenant.reset();
  else
    shape_.tenant = TenantSpec{e.at(0, 0), "", "TEXT"};
  if (!e.isNull(0, 1)) {
    // A changeset's header and table lines, and the tenant the endpoint adds to each row,
    // are not in the planner's estimate: keep a quarter of the request for them.
    const size_t bytes = std::strtoull(e.at(0, 1).c_str(), nullptr, 10);
    options_.limits.maxBatchBytes = std::min(options_.limits.maxBatchBytes, bytes / 4 * 3);
  }
  if (!e.isNull(0, 2))
    options_.limits.maxRecordsPerBatch = std::strtoull(e.at(0, 2).c_str(), nullptr, 10);
  // Progress is saved when a page is done: pages that fit one request each make every
  // acknowledged request a saved step, so a page reloaded mid-copy resends one request at most.
  // A page counts its rows' literals; the job adds a comma per row and each statement's head
  // and upsert tail, so a page of exactly maxBatchBytes left a few rows for a second request.
  Limits& L = options_.limits;
  L.pageBytes = std::min(L.pageBytes, L.maxBatchBytes / 10 * 9);
  if (L.maxRecordsPerBatch > 1) {
    L.copyPageRows = std::min(L.copyPageRows, L.maxRecordsPerBatch - 1);  // and its range delete
    L.pageChanges = std::min(L.pageChanges, L.maxRecordsPerBatch);
    changePageLimit_ = std::min(changePageLimit_, L.pageChanges);
  }
  return true;
}

std::optional<Engine::Page> Engine::remoteSchemaPage() {
  for (const auto& t : tables_) {
    TableState& ts = state_.tables[t.name];
    if (ts.phase == TablePhase::Create || ts.phase == TablePhase::Swap) {
      // A key change: the rows are copied again in place, and the endpoint refuses them
      // (SCHEMA) unless D1's key changed too.
      ts.phase = TablePhase::Copy;
      ts.shadow = false;
      ts.dropFirst = false;
      ts.resetCopy();
    }
    for (size_t i : t.storedColumns()) {
      if (ts.columns.empty() || containsNoCase(ts.columns, t.columns[i].name)) continue;
      fail(ErrorCode::Schema, "the sync endpoint's D1 table " + t.name + " has no column " +
                                  t.columns[i].name + ": the application adds it to D1");
      return std::nullopt;
    }
  }
  for (auto it = state_.tables.begin(); it != state_.tables.end();) {
    const bool present = std::any_of(tables_.begin(), tables_.end(),
                                     [&](const Table& t) { return t.name == it->first; });
    if (present) {
      ++it;
      continue;
    }
    warn("table " + it->first + " is gone locally; its rows stay in the endpoint's D1");
    it = state_.tables.erase(it);
  }
  return std::nullopt;
}

}  // namespace d1sync
