// Claiming the sourceId on D1 and reconciling what D1 already holds with the local state.
#include <algorithm>

#include "d1_tables.hpp"
#include "engine.hpp"
#include "sql_text.hpp"
#include "sync_protocol.hpp"

namespace d1sync {

// The mark that tells "we created the row" (or "our takeover landed") is saved before it is
// sent and reused by every retry, so a lost answer cannot make our own claim look foreign.
// A mark that could not be saved is not sent (nothing, when the error is recorded).
std::optional<std::string> Engine::pendingMark(const char* kind) {
  if (state_.pendingClaim.rfind(kind, 0) != 0) {
    std::string before = state_.pendingClaim;
    state_.pendingClaim = std::string(kind) + std::to_string(random_.next());
    if (!persist()) {
      state_.pendingClaim = before;
      recordError(ErrorCode::Internal, "saving the claim's mark: " + lastLocalError_);
      return std::nullopt;
    }
  }
  return state_.pendingClaim;
}

Step Engine::claim(int64_t nowMs) {
  auto mark = pendingMark("claim:");
  if (!mark) return backoffStep(nowMs);
  claimMark_ = *mark;
  if (options_.remote)
    return sendRemote(
        Flight::Claim, sync_protocol::kClaim,
        claimRequest(state_.sourceId, fenceId_.incarnation, state_.appliedSeq, claimMark_));
  auto statements = claimStatements(fenceId_, state_.appliedSeq, claimMark_, nowMs);
  claimSchema_ = schemaWithClaim(statements);
  return send(Flight::Claim, std::move(statements));
}

// A first start creates D1's tables in the claim's own batch: start() then takes one round
// trip, not two. Its guard lets them be created only where nothing can be in their way: the
// claim just made the row ours, and D1 has no object of their names. Otherwise the whole
// batch, claim included, rolls back, and the claim goes again alone to reconcile what D1 holds
// (a tenant's tables are usually there already: its claims always go alone).
std::optional<Engine::Page> Engine::schemaWithClaim(std::vector<std::string>& statements) {
  if (claimAlone_ || state_.everClaimed || options_.snapshot || options_.takeover ||
      options_.hydrate || state_.hydrate.active || shape_.tenant || tables_.empty())
    return std::nullopt;
  std::vector<std::string> names;
  for (const auto& t : tables_) {
    auto it = state_.tables.find(t.name);
    if (it == state_.tables.end() || it->second.phase != TablePhase::Create || it->second.shadow ||
        it->second.dropFirst)
      return std::nullopt;
    names.push_back(t.name);
  }
  auto page = schemaPage();
  if (!page || page->jobs.size() != 1 || !page->dropped.empty()) return std::nullopt;
  const std::vector<std::string>& create = page->jobs.front().statements;
  size_t bytes = 0;
  for (const auto& s : statements) bytes += s.size();
  for (const auto& s : create) bytes += s.size();
  const Limits& L = options_.limits;
  if (statements.size() + 1 + create.size() >
          static_cast<size_t>(std::min(L.maxStatementsPerBatch, L.queriesPerInvocation)) ||
      bytes > L.maxBatchBytes)
    return std::nullopt;
  statements.push_back(freshClaimGuard(fenceId_, state_.appliedSeq, claimMark_, names));
  for (const auto& s : create) statements.push_back(s);
  return page;
}

// A claim carrying the schema that failed in a way that cannot hide a commit: its guard refused
// it, or D1 refused a table. Nothing committed, and the claim alone finds out why: no error, no
// backoff. Only a failure that may hide a commit is retried as any claim's.
bool Engine::schemaClaimUndone(const BatchResult& r, bool withSchema) {
  return withSchema && !r.ok && !mayHaveCommitted(r.failure.kind);
}

void Engine::onClaimFailed(const BatchResult& r, bool withSchema, int64_t nowMs) {
  if (withSchema) claimAlone_ = true;
  if (schemaClaimUndone(r, withSchema)) return;
  const std::string& error = r.failure.message;
  retryAfter(r.ok ? D1Failure::Other : r.failure.kind,
             error.empty() ? "D1 answered the claim with too few results" : error, nowMs);
}

void Engine::onClaim(const BatchResult& r, int64_t nowMs) {
  std::optional<Page> schema = std::move(claimSchema_);
  claimSchema_.reset();
  if (!r.ok || r.results.size() <= kClaimTablesStatement) {
    onClaimFailed(r, schema.has_value(), nowMs);
    return;
  }
  const Rows& owner = r.results[kClaimTenantStatement];
  if (owner.size() > 0) {
    fail(ErrorCode::Config,
         (options_.remote ? std::string("this client's tenant")
                          : "tenant " + fenceId_.tenantColumn + "=" + fenceId_.tenantLiteral) +
             " already belongs to sourceId '" + owner.at(0, 0) + "'");
    return;
  }
  if (options_.remote && !adoptEndpoint(r)) return;
  SourceRow row = parseSourceRow(r.results[kClaimRowStatement]);
  if (!row.present) {
    fail(ErrorCode::Internal, "the claim of sourceId '" + state_.sourceId + "' left no row in D1");
    return;
  }
  if (row.incarnation != fenceId_.incarnation) {
    // A snapshot push takes over from the previous one (each run is a new incarnation).
    if (options_.takeover || (options_.snapshot && row.incarnation.rfind("snapshot-", 0) == 0)) {
      theirs_ = row;
      phase_ = Phase::Takeover;
      return;
    }
    fail(ErrorCode::Fenced, "sourceId '" + state_.sourceId +
                                "' is owned by another database (incarnation " + row.incarnation +
                                "); pass takeover: true to claim it and resync");
    return;
  }
  if (!adoptClaimedRow(row)) return;
  reconcileD1Tables(r.results[kClaimTablesStatement]);
  if (phase_ == Phase::Failed) return;
  if (schema) {
    // D1's tables were read before the guard, which found none of ours: these are the ones
    // this batch created.
    applyPageEffects(*schema, state_);
    logPage(*schema);
  }
  backoff_.reset();
  unknownFailures_ = 0;
  phase_ = Phase::Running;
  persist();
  events_.add(LogLevel::Info, "claimed",
              {{"sourceId", fenceId_.sourceId},
               {"epoch", state_.epoch},
               {"appliedSeq", state_.appliedSeq}});
}

// Our row in D1, after the claim: just created, moved on by the batch a crash interrupted, or
// exactly where we left it. Anything else means D1 changed behind our back.
bool Engine::adoptClaimedRow(const SourceRow& row) {
  state_.epoch = row.epoch;
  if (row.lastBatch == claimMark_) {
    // We just created the row. If we had replicated before, D1 lost it all: copy again.
    if (state_.everClaimed) resyncAll_ = true;
    state_.lastBatch = claimMark_;
  } else if ((!state_.pendingBatch.empty() && row.lastBatch == state_.pendingBatch) ||
             (!state_.pendingAhead.empty() && row.lastBatch == state_.pendingAhead)) {
    // The batch sent before a crash committed (or the one sent after it, whose guard needed
    // it): adopt the watermark it carried.
    if (row.appliedSeq > state_.appliedSeq) {
      state_.appliedSeq = row.appliedSeq;
      // A trim that fails is harmless: reads start after appliedSeq and the next one trims.
      local_.exec("DELETE FROM _d1sync_log WHERE seq<=" + std::to_string(row.appliedSeq));
    }
    state_.lastBatch = row.lastBatch;
  } else if (row.appliedSeq == state_.appliedSeq && row.lastBatch != state_.lastBatch &&
             row.lastBatch.rfind("takeover:", 0) == 0) {
    // Our takeover committed and its answer was lost (the claim that follows replaced its
    // mark): only this database writes its own incarnation into the row. D1 holds the
    // previous owner's rows, as after any takeover.
    state_.lastBatch = row.lastBatch;
    if (!options_.snapshot) {
      resyncAll_ = true;
      for (auto& [name, ts] : state_.tables) ts.recopy = true;
    }
  } else if (row.appliedSeq != state_.appliedSeq || row.lastBatch != state_.lastBatch) {
    fail(ErrorCode::Fenced,
         "D1 holds applied_seq " + std::to_string(row.appliedSeq) + " / last_batch '" +
             row.lastBatch + "' for sourceId '" + state_.sourceId + "', this database expected " +
             std::to_string(state_.appliedSeq) + " / '" + state_.lastBatch +
             "': D1 was changed or restored behind d1sync's back; takeover: true resyncs it");
    return false;
  }
  state_.pendingBatch.clear();
  state_.pendingAhead.clear();
  state_.pendingClaim.clear();
  state_.everClaimed = true;
  return true;
}

void Engine::onTakeover(const BatchResult& r, int64_t nowMs) {
  if (!r.ok || r.results.size() < 2) {
    retryAfter(r.ok ? D1Failure::Other : r.failure.kind, r.failure.message, nowMs);
    return;
  }
  SourceRow row = parseSourceRow(r.results[1]);
  if (!row.present || row.incarnation != fenceId_.incarnation || row.lastBatch != claimMark_) {
    fail(ErrorCode::Fenced, "another database changed sourceId '" + state_.sourceId +
                                "' while this one was taking it over");
    return;
  }
  state_.epoch = row.epoch;
  state_.lastBatch = row.lastBatch;
  state_.pendingBatch.clear();
  state_.pendingAhead.clear();
  state_.pendingClaim.clear();
  // D1 holds the previous owner's rows: every table is copied again, converging them to ours.
  // Saved with the takeover, so a restart before the recopy begins still does it. A snapshot
  // push verifies them instead, and sends what differs.
  if (!options_.snapshot) {
    resyncAll_ = true;
    for (auto& [name, ts] : state_.tables) ts.recopy = true;
  }
  phase_ = Phase::Claim;
  persist();
}

void Engine::reconcileD1Tables(const Rows& d1) {
  auto find = [&](const std::string& name) -> const std::string* {
    for (size_t i = 0; i < d1.size(); ++i)
      if (equalsNoCase(d1.at(i, 0), name)) return &d1.at(i, 1);
    return nullptr;
  };
  for (const auto& t : tables_) {
    TableState& ts = state_.tables[t.name];
    const std::string* real = find(t.name);
    const std::string* shadow = find(shadowName(t.name));
    if (ts.phase == TablePhase::Swap && !shadow) {
      if (real) {
        ts.phase = TablePhase::Live;  // the swap committed before a crash
        ts.shadow = false;
      } else {
        ts.phase = TablePhase::Create;
        ts.resetCopy();
      }
    }
    if (ts.shadow && ts.phase == TablePhase::Copy && !shadow) {
      ts.phase = TablePhase::Create;
      ts.resetCopy();
    }
    if (ts.shadow) continue;
    if (!real && options_.remote) {
      fail(ErrorCode::Schema, "the sync endpoint's D1 has no table " + t.name +
                                  " (or does not accept it): the application creates it");
      return;
    }
    if (!real) {
      ts.phase = TablePhase::Create;
      ts.dropFirst = false;
      ts.columns.clear();
      ts.resetCopy();
      continue;
    }
    if (!reconcileD1Table(t, ts, *real)) return;
  }
}

// A table D1 already has: kept (and copied into, converging its rows to ours) when its key and
// column types are ours, rebuilt otherwise; false (failed) when other tenants share it.
bool Engine::reconcileD1Table(const Table& t, TableState& ts, const std::string& createSql) {
  D1Table info = parseD1Table(createSql);
  std::vector<std::string> wantKey = t.keyColumnNames();
  if (shape_.tenant) wantKey.insert(wantKey.begin(), shape_.tenant->column);
  bool typesMatch = true;
  for (size_t i = 0; i < info.columns.size(); ++i)
    if (const Column* c = t.column(info.columns[i]); c && !sameType(c->type, info.types[i]))
      typesMatch = false;
  if (!sameNames(info.key, wantKey) || !typesMatch) {
    if (options_.remote) {
      fail(ErrorCode::Schema, "the sync endpoint's D1 table " + t.name +
                                  " differs from the local one in its primary key or column "
                                  "types");
      return false;
    }
    if (shape_.tenant) {
      fail(ErrorCode::Schema, "D1 table " + t.name +
                                  " is shared with other tenants but its primary key or column "
                                  "types differ from this source's; it cannot be rebuilt from "
                                  "one tenant");
      return false;
    }
    ts.phase = TablePhase::Create;
    ts.dropFirst = true;
    ts.resetCopy();
    return true;
  }
  ts.columns.clear();
  for (const auto& c : info.columns) {
    if (shape_.tenant && equalsNoCase(c, shape_.tenant->column)) continue;
    if (t.keyKind == KeyKind::Rowid && equalsNoCase(c, t.d1RowidColumn)) continue;
    ts.columns.push_back(c);
  }
  ts.key = t.keyColumnNames();
  if (ts.phase == TablePhase::Create) {
    // A snapshot push leaves the rows D1 has in place: its verify finds what differs.
    ts.phase = options_.snapshot ? TablePhase::Live : TablePhase::Copy;
    ts.resetCopy();
  }
  return true;
}

}  // namespace d1sync
