// Claiming the sourceId on D1 and reconciling what D1 already holds with the local state.
#include <algorithm>

#include "engine.hpp"
#include "sql_text.hpp"

namespace d1sync {

namespace {

struct D1Table {
  std::vector<std::string> columns;
  std::vector<std::string> types;  // declared type per column, as written
  std::vector<std::string> key;
};

bool isConstraintWord(const Token& t) {
  for (const char* w : {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT",
                        "COLLATE", "REFERENCES", "GENERATED", "AS"})
    if (t.is(w)) return true;
  return false;
}

// Columns and primary key of a D1 table, from its CREATE TABLE text.
D1Table parseD1Table(const std::string& sql) {
  D1Table out;
  auto tk = tokenize(sql);
  size_t open = 0;
  while (open < tk.size() && !tk[open].isPunct('(')) ++open;
  if (open == tk.size()) return out;
  size_t close = matchParen(tk, open);
  for (auto [b, e] : splitTopLevel(tk, open + 1, close)) {
    size_t first = b;
    if (tk[first].is("CONSTRAINT")) first += 2;
    if (first >= e) continue;
    if (tk[first].is("PRIMARY") && first + 2 < e && tk[first + 2].isPunct('(')) {
      size_t pc = matchParen(tk, first + 2);
      for (auto [kb, ke] : splitTopLevel(tk, first + 3, pc)) out.key.push_back(identName(tk[kb]));
      continue;
    }
    if (tk[first].is("UNIQUE") || tk[first].is("CHECK") || tk[first].is("FOREIGN")) continue;
    out.columns.push_back(identName(tk[b]));
    size_t t = b + 1;
    while (t < e && !isConstraintWord(tk[t])) ++t;
    std::string type;
    for (size_t i = b + 1; i < t; ++i)
      type += std::string(i > b + 1 ? " " : "") + std::string(tk[i].text);
    out.types.push_back(type);
    for (size_t i = b + 1; i + 1 < e; ++i)
      if (tk[i].is("PRIMARY") && tk[i + 1].is("KEY")) out.key.push_back(identName(tk[b]));
  }
  return out;
}

// Declared types compared token by token, so "VARCHAR(10)" matches "varchar ( 10 )".
bool sameType(const std::string& a, const std::string& b) {
  auto ta = tokenize(a), tb = tokenize(b);
  if (ta.size() != tb.size()) return false;
  for (size_t i = 0; i < ta.size(); ++i)
    if (!equalsNoCase(ta[i].text, tb[i].text)) return false;
  return true;
}

bool sameNames(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!equalsNoCase(a[i], b[i])) return false;
  return true;
}

}  // namespace

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
  return send(Flight::Claim, claimStatements(fenceId_, state_.appliedSeq, claimMark_, nowMs));
}

void Engine::onClaim(const BatchResult& r, int64_t nowMs) {
  if (!r.ok || r.results.size() <= kClaimTablesStatement) {
    const std::string& error = r.failure.message;
    retryAfter(r.ok ? D1Failure::Other : r.failure.kind,
               error.empty() ? "D1 answered the claim with too few results" : error, nowMs);
    return;
  }
  const Rows& owner = r.results[kClaimTenantStatement];
  if (owner.size() > 0) {
    fail(ErrorCode::Config, "tenant " + fenceId_.tenantColumn + "=" + fenceId_.tenantLiteral +
                                " already belongs to sourceId '" + owner.at(0, 0) + "'");
    return;
  }
  SourceRow row = parseSourceRow(r.results[kClaimRowStatement]);
  if (!row.present) {
    fail(ErrorCode::Internal, "the claim of sourceId '" + state_.sourceId + "' left no row in D1");
    return;
  }
  if (row.incarnation != state_.incarnation) {
    if (options_.takeover) {
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
  backoff_.reset();
  unknownFailures_ = 0;
  phase_ = Phase::Running;
  persist();
}

// Our row in D1, after the claim: just created, moved on by the batch a crash interrupted, or
// exactly where we left it. Anything else means D1 changed behind our back.
bool Engine::adoptClaimedRow(const SourceRow& row) {
  state_.epoch = row.epoch;
  if (row.lastBatch == claimMark_) {
    // We just created the row. If we had replicated before, D1 lost it all: copy again.
    if (state_.everClaimed) resyncAll_ = true;
    state_.lastBatch = claimMark_;
  } else if (!state_.pendingBatch.empty() && row.lastBatch == state_.pendingBatch) {
    // The batch sent before a crash committed: adopt the watermark it carried.
    if (row.appliedSeq > state_.appliedSeq) {
      state_.appliedSeq = row.appliedSeq;
      // A trim that fails is harmless: reads start after appliedSeq and the next one trims.
      local_.exec("DELETE FROM _d1sync_log WHERE seq<=" + std::to_string(row.appliedSeq));
    }
    state_.lastBatch = row.lastBatch;
  } else if (row.appliedSeq != state_.appliedSeq || row.lastBatch != state_.lastBatch) {
    fail(ErrorCode::Fenced,
         "D1 holds applied_seq " + std::to_string(row.appliedSeq) + " / last_batch '" +
             row.lastBatch + "' for sourceId '" + state_.sourceId + "', this database expected " +
             std::to_string(state_.appliedSeq) + " / '" + state_.lastBatch +
             "': D1 was changed or restored behind d1sync's back; takeover: true resyncs it");
    return false;
  }
  state_.pendingBatch.clear();
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
  if (!row.present || row.incarnation != state_.incarnation || row.lastBatch != claimMark_) {
    fail(ErrorCode::Fenced, "another database changed sourceId '" + state_.sourceId +
                                "' while this one was taking it over");
    return;
  }
  state_.epoch = row.epoch;
  state_.lastBatch = row.lastBatch;
  state_.pendingBatch.clear();
  state_.pendingClaim.clear();
  resyncAll_ = true;  // D1 holds the previous owner's rows: converge them to ours
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
    ts.phase = TablePhase::Copy;
    ts.resetCopy();
  }
  return true;
}

}  // namespace d1sync
