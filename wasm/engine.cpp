#include "engine.hpp"

#include <algorithm>

#include "capture.hpp"
#include "sql_text.hpp"

namespace d1sync {

namespace {

std::string hexId(Random& rng, int words) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int w = 0; w < words; ++w) {
    uint64_t v = rng.next();
    for (int i = 0; i < 16; ++i) out += kHex[(v >> (i * 4)) & 15];
  }
  return out;
}

}  // namespace

Engine::Engine(LocalDb& local, Options options)
    : local_(local),
      options_(std::move(options)),
      chunker_(options_.limits),
      backoff_(options_.seed ^ 0x2545f4914f6cdd1dULL),
      random_(options_.seed),
      changePageLimit_(options_.limits.pageChanges) {
  shape_.mode = options_.schema;
  if (options_.tenantColumn) {
    bool text = !options_.tenantLiteral.empty() && options_.tenantLiteral[0] == '\'';
    shape_.tenant =
        TenantSpec{*options_.tenantColumn, options_.tenantLiteral, text ? "TEXT" : "INTEGER"};
    fenceId_.tenantColumn = *options_.tenantColumn;
    fenceId_.tenantLiteral = options_.tenantLiteral;
  }
  fenceId_.sourceId = options_.sourceId;
}

Engine::~Engine() = default;

Step Engine::fail(ErrorCode code, const std::string& message) {
  if (phase_ != Phase::Failed) {
    phase_ = Phase::Failed;
    fatal_ = {code, message};
    recordError(code, message);
    persist();
  }
  Step s;
  s.kind = Step::Failed;
  s.code = fatal_.code;
  s.message = fatal_.message;
  return s;
}

void Engine::recordError(ErrorCode code, const std::string& message) {
  state_.counters.lastError = message;
  state_.counters.lastErrorCode = codeName(code);
}

void Engine::warn(const std::string& message) {
  // Kept once each, and bounded: health() carries them.
  if (warnings_.size() < 50 &&
      std::find(warnings_.begin(), warnings_.end(), message) == warnings_.end())
    warnings_.push_back(message);
}

void Engine::scheduleRetry(int64_t nowMs) {
  retryAtMs_ = nowMs + backoff_.nextDelayMs();
}

std::optional<int64_t> Engine::nextRetryAt() const {
  if (phase_ == Phase::Failed || retryAtMs_ == 0) return {};
  return retryAtMs_;
}

std::string Engine::newBatchId() {
  return state_.incarnation.substr(0, 12) + "-" + std::to_string(state_.epoch) + "-" +
         std::to_string(++state_.batchCounter);
}

bool Engine::persist() {
  // Every write to a Durable Object's storage is billed: skip the ones that change nothing.
  std::string doc = stateToJson(state_);
  if (doc == persisted_) return true;
  auto r = local_.exec("INSERT OR REPLACE INTO _d1sync_state(id, doc) VALUES (1, " +
                       quoteText(doc) + ")");
  if (r.ok) persisted_ = std::move(doc);
  return r.ok;
}

namespace {

// A tenant value must be one SQL literal: a quoted string or an integer.
bool isTenantLiteral(const std::string& lit) {
  auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  auto tk = tokenize(lit);
  if (tk.size() == 1 && tk[0].kind == Token::String)
    return tk[0].text == lit && lit.size() >= 2 && lit.back() == '\'';
  if (tk.size() == 1) return digits(tk[0].text);
  return tk.size() == 2 && tk[0].isPunct('-') && digits(tk[1].text);
}

}  // namespace

bool Engine::loadOrInit(int64_t nowMs) {
  if (shape_.tenant && !isTenantLiteral(shape_.tenant->literal)) {
    fail(ErrorCode::Config,
         "tenant value [" + shape_.tenant->literal + "] is not an SQL string or integer literal");
    return false;
  }
  auto ddl = local_.exec(bookkeepingDdl());
  if (!ddl.ok) {
    fail(ErrorCode::Internal, "cannot create d1sync's bookkeeping tables: " + ddl.error);
    return false;
  }
  auto r = local_.exec("SELECT doc FROM _d1sync_state WHERE id=1");
  if (!r.ok) {
    fail(ErrorCode::Internal, "cannot read _d1sync_state: " + r.error);
    return false;
  }
  if (r.rows.size() == 1) {
    persisted_ = r.rows.at(0, 0);
    if (!stateFromJson(persisted_, state_)) {
      fail(ErrorCode::Internal, "_d1sync_state holds no readable state document");
      return false;
    }
    if (state_.sourceId != options_.sourceId) {
      fail(ErrorCode::Config, "this database replicates as sourceId '" + state_.sourceId +
                                  "', not '" + options_.sourceId +
                                  "': keep the sourceId, or uninstall d1sync first");
      return false;
    }
  } else {
    state_.sourceId = options_.sourceId;
    state_.incarnation = hexId(random_, 2);
  }
  fenceId_.incarnation = state_.incarnation;
  // Exact REALs (render.hpp) need SQLite's math functions; every supported host has them.
  signedZero_ = local_.exec("SELECT atan2(0.0, -1.0), log2(8.0), floor(1.5), pow(2, -1022)").ok;
  if (!signedZero_) {
    fail(ErrorCode::Config,
         "the local SQLite lacks the math functions (log2, pow, floor, atan2) that exact REAL "
         "literals need: build it with SQLITE_ENABLE_MATH_FUNCTIONS");
    return false;
  }
  // Sequence numbers must never repeat: if the AUTOINCREMENT high-water mark was lost, push
  // it back above what D1 already has.
  auto seq = local_.exec("SELECT max(seq) FROM _d1sync_log");
  int64_t top = seq.ok && seq.rows.size() && !seq.rows.isNull(0, 0)
                    ? std::strtoll(seq.rows.at(0, 0).c_str(), nullptr, 10)
                    : 0;
  if (top < state_.appliedSeq) {
    std::string s = std::to_string(state_.appliedSeq);
    local_.exec("INSERT OR IGNORE INTO _d1sync_log(seq, tbl, op, key, at_ms) VALUES (" + s +
                ", '', 'X', '', 0); DELETE FROM _d1sync_log WHERE seq<" + s);
  }
  if (options_.tables) {
    auto m = local_.exec(masterQuery());
    auto entries = parseMaster(m.rows);
    for (const auto& name : *options_.tables) {
      bool found = false;
      for (const auto& e : entries)
        if (e.type == "table" && e.name == name) found = true;
      if (!found) {
        fail(ErrorCode::Config, "option tables names '" + name + "', which is not a local table");
        return false;
      }
    }
  }
  if (!refreshSchema(nowMs)) return false;
  return persist();
}

Step Engine::send(Flight kind, std::vector<std::string> statements) {
  flight_ = kind;
  Step s;
  s.kind = Step::Send;
  s.request.id = ++requestId_;
  s.request.statements = std::move(statements);
  return s;
}

Step Engine::next(int64_t nowMs) {
  now_ = nowMs;
  if (phase_ == Phase::Failed) return fail(fatal_.code, fatal_.message);
  if (flight_ != Flight::None) {
    Step s;
    s.kind = Step::Failed;
    s.code = ErrorCode::Internal;
    s.message = "next() called while a D1 request is still awaiting complete()";
    return s;
  }
  if (retryAtMs_ > nowMs) {
    Step s;
    s.kind = Step::Wait;
    s.waitUntilMs = retryAtMs_;
    return s;
  }
  retryAtMs_ = 0;
  if (phase_ == Phase::Init) {
    if (!loadOrInit(nowMs)) return fail(fatal_.code, fatal_.message);
    phase_ = Phase::Claim;
  }
  if (phase_ == Phase::Claim) return claim(nowMs);
  if (phase_ == Phase::Takeover) {
    claimMark_ = pendingMark("takeover:");
    return send(Flight::Takeover,
                takeoverStatements(fenceId_, theirs_, state_.appliedSeq, claimMark_, nowMs));
  }
  if (needProbe_) return send(Flight::Probe, {sourceRowQuery(fenceId_)});
  // A second pass picks up a resync that reading the outbox asked for.
  for (int pass = 0; pass < 2 && !page_; ++pass) {
    if (!refreshSchema(nowMs)) {
      if (phase_ == Phase::Failed) return fail(fatal_.code, fatal_.message);
      scheduleRetry(nowMs);
      Step s;
      s.kind = Step::Wait;
      s.waitUntilMs = retryAtMs_;
      return s;
    }
    page_ = schemaPage();
    if (!page_) schemaReady_ = true;
    if (!page_) page_ = copyPage();
    if (!page_) page_ = changesPage();
    if (phase_ == Phase::Failed) return fail(fatal_.code, fatal_.message);
    if (!resyncAll_ && resyncRequests_.empty()) break;
  }
  if (!page_) {
    backoff_.reset();
    persist();
    return Step{};
  }
  return sendJob(nowMs);
}

Step Engine::sendJob(int64_t nowMs) {
  const Job& job = page_->jobs.front();
  const bool last = page_->jobs.size() == 1;
  std::string id = newBatchId();
  state_.pendingBatch = id;
  persist();
  std::vector<std::string> stmts;
  stmts.push_back(guardStatement(fenceId_, state_.epoch, state_.appliedSeq, state_.lastBatch));
  if (shape_.mode == SchemaMode::Strict) stmts.push_back("PRAGMA defer_foreign_keys = ON");
  for (auto& s : renderUnits(job)) stmts.push_back(std::move(s));
  int64_t applied = last && page_->kind == Page::Changes ? page_->uptoSeq : state_.appliedSeq;
  stmts.push_back(advanceStatement(fenceId_, applied, id, nowMs));
  flightBatch_ = id;
  flightStatements_ = stmts.size();
  flightBytes_ = 0;
  for (const auto& s : stmts) flightBytes_ += s.size();
  flightRows_ = 0;
  for (const auto& u : job.units) flightRows_ += static_cast<int64_t>(u.rows());
  flightStartMs_ = nowMs;
  return send(Flight::Job, std::move(stmts));
}

void Engine::complete(const D1Response& r, int64_t nowMs) {
  now_ = nowMs;
  Flight f = flight_;
  flight_ = Flight::None;
  if (phase_ == Phase::Failed) return;
  state_.counters.lastSyncAt = nowMs;
  if (f != Flight::None) {
    ++state_.counters.totalSyncs;
    if (!r.ok) ++state_.counters.syncErrors;
  }
  switch (f) {
    case Flight::None:
      return;
    case Flight::Claim:
      onClaim(r, nowMs);
      return;
    case Flight::Takeover:
      onTakeover(r, nowMs);
      return;
    case Flight::Probe:
      onProbe(r, nowMs);
      return;
    case Flight::Job:
      if (r.ok) {
        onJobDone(nowMs);
      } else {
        onJobFailed(r.error, nowMs);
      }
      return;
  }
}

void Engine::onJobDone(int64_t nowMs) {
  Counters& c = state_.counters;
  state_.lastBatch = flightBatch_;
  state_.pendingBatch.clear();
  ++c.batchesSent;
  c.statementsSent += static_cast<int64_t>(flightStatements_);
  c.bytesSent += static_cast<int64_t>(flightBytes_);
  c.rowsReplicated += flightRows_;
  c.lastSuccessAt = nowMs;
  c.syncSecondsSum += static_cast<double>(nowMs - flightStartMs_) / 1000.0;
  backoff_.reset();
  schemaFailures_ = 0;
  page_->jobs.pop_front();
  if (page_->jobs.empty()) {
    finishPage(nowMs);
  } else {
    persist();
  }
}

void Engine::finishPage(int64_t nowMs) {
  (void)nowMs;
  Page& p = *page_;
  if (p.kind == Page::Changes && p.uptoSeq > state_.appliedSeq) {
    state_.appliedSeq = p.uptoSeq;
    local_.exec("DELETE FROM _d1sync_log WHERE seq<=" + std::to_string(p.uptoSeq));
  }
  for (const auto& e : p.copies) {
    auto it = state_.tables.find(e.table);
    if (it == state_.tables.end()) continue;
    TableState& t = it->second;
    t.copyStarted = true;
    t.bounded = e.bounded;
    t.upto = e.upto;
    t.total = e.total;
    t.hasCursor = e.hasCursor;
    t.cursor = e.cursor;
    t.copied += e.rows;
    if (e.finished) {
      t.phase = t.shadow ? TablePhase::Swap : TablePhase::Live;
      t.maxRowid.clear();  // the next changes page records it
    }
  }
  for (const auto& [name, phase] : p.phases) {
    auto it = state_.tables.find(name);
    if (it == state_.tables.end()) continue;
    TableState& t = it->second;
    if (t.phase == TablePhase::Swap && phase == TablePhase::Live) t.shadow = false;
    if (t.phase == TablePhase::Create && phase == TablePhase::Copy) t.dropFirst = false;
    t.phase = phase;
    for (const auto& tb : tables_) {
      if (tb.name != name) continue;
      t.columns.clear();
      for (const auto& c : tb.columns) t.columns.push_back(c.name);
      t.key = tb.keyColumnNames();
      if (!t.shadow || phase != TablePhase::Copy) t.indexes = createIndexDdl(tb, tb.name, shape_);
    }
  }
  if (!p.copies.empty() && shape_.mode == SchemaMode::Strict && initialSyncDone()) {
    // Rows whose foreign key pointed at a row a later copy page brought were refused while
    // the copy ran; now every table is in D1, send them again, together.
    local_.exec("INSERT INTO _d1sync_log(tbl, op, key, at_ms) SELECT tbl, 'Q', key, " +
                std::to_string(now_) +
                " FROM _d1sync_quarantine WHERE error LIKE '%FOREIGN KEY%' ORDER BY id; "
                "DELETE FROM _d1sync_quarantine WHERE error LIKE '%FOREIGN KEY%'");
  }
  for (const auto& [name, max] : p.maxRowids)
    if (auto it = state_.tables.find(name); it != state_.tables.end()) it->second.maxRowid = max;
  for (const auto& name : p.dropped) state_.tables.erase(name);
  page_.reset();
  persist();
}

void Engine::quarantine(const Unit& u, ErrorCode code, const std::string& error, int64_t nowMs) {
  const std::string& key = u.kind == Unit::Upsert ? u.row.key : u.key;
  local_.exec("INSERT OR REPLACE INTO _d1sync_quarantine(tbl, key, code, error, at_ms) VALUES (" +
              quoteText(u.table) + ", " + quoteText(key) + ", " + quoteText(codeName(code)) + ", " +
              quoteText(error) + ", " + std::to_string(nowMs) + ")");
}

void Engine::onJobFailed(const std::string& error, int64_t nowMs) {
  D1Failure f = classifyD1Error(error);
  recordError(codeFor(f), error);
  switch (f) {
    case D1Failure::Fenced:
      // Our own commit whose answer was lost looks the same: the probe tells them apart.
      needProbe_ = true;
      break;
    case D1Failure::Transient:
    case D1Failure::Other:
      ++state_.counters.retries;
      needProbe_ = true;
      scheduleRetry(nowMs);
      break;
    case D1Failure::Schema:
      if (++schemaFailures_ > 3) {
        fail(ErrorCode::Schema, "D1's schema keeps refusing the replica: " + error);
        return;
      }
      page_.reset();
      phase_ = Phase::Claim;  // re-read D1's tables and reconcile
      break;
    case D1Failure::Limit:
    case D1Failure::Row:
    case D1Failure::DeferredFk: {
      Job job = std::move(page_->jobs.front());
      page_->jobs.pop_front();
      if (job.units.size() > 1) {
        size_t half = job.units.size() / 2;
        Job a, b;
        a.units.assign(std::make_move_iterator(job.units.begin()),
                       std::make_move_iterator(job.units.begin() + half));
        b.units.assign(std::make_move_iterator(job.units.begin() + half),
                       std::make_move_iterator(job.units.end()));
        size_t cap = std::min(job.maxRows, std::max<size_t>(1, half));
        a.maxRows = b.maxRows = f == D1Failure::Limit ? std::max<size_t>(1, cap / 2) : job.maxRows;
        page_->jobs.push_front(std::move(b));
        page_->jobs.push_front(std::move(a));
      } else if (job.units.size() == 1 && !job.retried) {
        // One refusal of a lone unit may be a fluke of D1's; a row too long for one statement
        // goes again with every value it can spare sent in parts.
        job.retried = true;
        Unit& u = job.units[0];
        if (f == D1Failure::Limit && u.kind == Unit::Upsert) {
          for (const auto& t : tables_)
            if (t.name == u.table)
              chunker_.fitRow(shapeOf(t, state_.tables[t.name].shadow), u.row, 0);
        }
        page_->jobs.push_front(std::move(job));
      } else if (job.units.size() == 1 &&
                 (job.units[0].kind == Unit::Upsert || job.units[0].kind == Unit::Delete)) {
        quarantine(job.units[0], codeFor(f), error, nowMs);
        job.units.clear();
        // The last job carries the page's watermark advance: send it even with nothing else.
        if (page_->jobs.empty()) page_->jobs.push_front(std::move(job));
      } else if (job.units.size() == 1) {
        // A schema statement or a range delete cannot be split or quarantined: keep sending
        // it with backoff; health() shows the error meanwhile.
        ++state_.counters.retries;
        scheduleRetry(nowMs);
        page_->jobs.push_front(std::move(job));
      } else {
        fail(ErrorCode::Internal, "D1 refused the watermark update alone: " + error);
        return;
      }
      if (page_->jobs.empty()) finishPage(nowMs);
      break;
    }
  }
  persist();
}

void Engine::onProbe(const D1Response& r, int64_t nowMs) {
  if (!r.ok || r.results.empty()) {
    D1Failure f = classifyD1Error(r.error);
    recordError(codeFor(f), r.error);
    if (f == D1Failure::Schema) {  // _d1sync_sources is gone: D1 was reset
      needProbe_ = false;
      page_.reset();
      phase_ = Phase::Claim;
      return;
    }
    ++state_.counters.retries;
    scheduleRetry(nowMs);
    return;
  }
  needProbe_ = false;
  SourceRow row = parseSourceRow(r.results[0]);
  if (!row.present) {
    page_.reset();
    phase_ = Phase::Claim;
    return;
  }
  bool ours = row.incarnation == state_.incarnation && row.epoch == state_.epoch;
  if (ours && !state_.pendingBatch.empty() && row.lastBatch == state_.pendingBatch) {
    onJobDone(nowMs);  // it committed; only the answer was lost
    return;
  }
  if (ours && row.appliedSeq == state_.appliedSeq && row.lastBatch == state_.lastBatch) {
    persist();  // it did not commit: resend once the backoff allows
    return;
  }
  fail(ErrorCode::Fenced,
       "sourceId '" + state_.sourceId + "' moved on in D1 without this engine (D1 has " +
           "incarnation " + row.incarnation + ", epoch " + std::to_string(row.epoch) +
           ", applied_seq " + std::to_string(row.appliedSeq) + ", last_batch '" + row.lastBatch +
           "'; this engine expected epoch " + std::to_string(state_.epoch) + ", applied_seq " +
           std::to_string(state_.appliedSeq) + ")");
}

int64_t Engine::capturedSeq() {
  auto r = local_.exec("SELECT max(seq) FROM _d1sync_log");
  int64_t top = r.ok && r.rows.size() && !r.rows.isNull(0, 0)
                    ? std::strtoll(r.rows.at(0, 0).c_str(), nullptr, 10)
                    : 0;
  return std::max(top, state_.appliedSeq);
}

bool Engine::initialSyncDone() const {
  if (phase_ != Phase::Running) return false;
  for (const auto& [name, t] : state_.tables)
    if (t.phase != TablePhase::Live) return false;
  return true;
}

}  // namespace d1sync
