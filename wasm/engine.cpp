#include "engine.hpp"
#include "verify.hpp"

#include <algorithm>

#include "capture.hpp"
#include "sql_text.hpp"
#include "sync_protocol.hpp"

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
      planner_(options_.limits, chunker_),
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
  events_.setLevel(options_.log);
}

Engine::~Engine() = default;

Step Engine::fail(ErrorCode code, const std::string& message) {
  if (phase_ != Phase::Failed) {
    phase_ = Phase::Failed;
    fatal_ = {code, message};
    recordError(code, message);
    logFailure(code, message);
    // Before the state is loaded, state_ is empty: writing it would replace the real one.
    if (loaded_) persist();
  }
  Step s;
  s.kind = Step::Failed;
  s.code = fatal_.code;
  s.message = fatal_.message;
  s.d1Message = state_.counters.lastError;
  return s;
}

namespace {

// ms epoch as ISO 8601 (UTC), for messages.
std::string isoTime(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60), static_cast<long long>(ms - secs * 1000));
  return buf;
}

}  // namespace

void Engine::beginDrive(int64_t maxBatches, bool untilStarted) {
  beginDrive(maxBatches, untilStarted, options_.flushRetryMs);
}

void Engine::beginDrive(int64_t maxBatches, bool untilStarted, int64_t retryBudgetMs) {
  drive_ = Drive{};
  ahead_.reset();  // prepared for the last drive: read again, as it stands now
  drive_.maxBatches = maxBatches;
  drive_.untilStarted = untilStarted;
  drive_.budgetMs = retryBudgetMs;
}

// A Wait step, unless the drive's retry budget cannot cover it: then the drive is rejected
// with the last error, and the engine keeps its backoff for the next drive.
Step Engine::waitStep(int64_t untilMs, int64_t nowMs) {
  Step s;
  int64_t ms = std::max<int64_t>(0, untilMs - nowMs);
  if (drive_.budgetMs >= 0 && drive_.waitedMs + ms > drive_.budgetMs) {
    const Counters& c = state_.counters;
    s.kind = Step::Rejected;
    s.code = c.lastErrorCode.empty() ? ErrorCode::D1Transient : codeFromName(c.lastErrorCode);
    s.message = "replication keeps failing; retrying from " + isoTime(untilMs) + ": " +
                (c.lastError.empty() ? std::string("(no message)") : c.lastError);
    s.d1Message = c.lastError;
    return s;
  }
  drive_.waitedMs += ms;
  s.kind = Step::Wait;
  s.waitUntilMs = untilMs;
  return s;
}

Step Engine::backoffStep(int64_t nowMs) {
  ++state_.counters.retries;
  scheduleRetry(nowMs);
  return waitStep(retryAtMs_, nowMs);
}

// A local call failed: the error goes to health() and the work is retried with backoff.
bool Engine::localFailed(const std::string& what, const QueryResult& r) {
  if (r.ok) return false;
  recordError(ErrorCode::Internal, what + ": " + r.error);
  return true;
}

// D1 errors of no known class are retried, but not forever.
bool Engine::retryUnknown(D1Failure f, const std::string& error, int64_t nowMs) {
  if (f != D1Failure::Other) return true;
  if (++unknownFailures_ < kMaxUnknownD1Failures) return true;
  fail(ErrorCode::Internal,
       "D1 failed " + std::to_string(unknownFailures_) +
           " times in a row with an error d1sync does not recognise: " + error);
  return false;
}

// A claim, takeover or probe that failed: recorded and retried with backoff, within the budget.
void Engine::retryAfter(D1Failure f, const std::string& error, int64_t nowMs) {
  if (f == D1Failure::Refused) {
    fail(ErrorCode::Config, error);
    return;
  }
  recordError(codeFor(f), error);
  if (!retryUnknown(f, error, nowMs)) return;
  ++state_.counters.retries;
  scheduleRetry(nowMs);
}

void Engine::recordError(ErrorCode code, const std::string& message) {
  state_.counters.lastError = message;
  state_.counters.lastErrorCode = codeName(code);
}

void Engine::warn(const std::string& message) {
  // Kept once each, and bounded: health() carries them.
  if (warnings_.size() < 50 &&
      std::find(warnings_.begin(), warnings_.end(), message) == warnings_.end()) {
    warnings_.push_back(message);
    events_.add(LogLevel::Warn, "warning", {{"sourceId", fenceId_.sourceId}, {"message", message}});
  }
}

void Engine::scheduleRetry(int64_t nowMs) {
  retryAtMs_ = nowMs + std::max(backoff_.nextDelayMs(), retryFloorMs_);
  retryFloorMs_ = 0;
  logRetry(retryAtMs_ - nowMs);
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
  // lookAhead()'s state is a guess about a batch still in flight: it must never be saved.
  if (speculating_) return false;
  // Every write to a Durable Object's storage is billed: only what changed is written, and a
  // batch changes the small document, not the tables' ones.
  std::string doc = stateToJson(state_, false);
  std::map<std::string, std::string> tables;
  for (const auto& [name, t] : state_.tables) tables[name] = tableStateToJson(t);
  std::string sql;
  if (!persistedTables_) sql += "DELETE FROM _d1sync_tables;";
  for (const auto& [name, tdoc] : tables) {
    if (persistedTables_) {
      auto it = persistedTables_->find(name);
      if (it != persistedTables_->end() && it->second == tdoc) continue;
    }
    sql += "INSERT OR REPLACE INTO _d1sync_tables(name, doc) VALUES (" + quoteText(name) + ", " +
           quoteText(tdoc) + ");";
  }
  if (persistedTables_)
    for (const auto& [name, tdoc] : *persistedTables_)
      if (!tables.count(name))
        sql += "DELETE FROM _d1sync_tables WHERE name=" + quoteText(name) + ";";
  if (doc != persisted_)
    sql += "INSERT OR REPLACE INTO _d1sync_state(id, doc) VALUES (1, " + quoteText(doc) + ")";
  if (sql.empty()) return true;
  auto r = local_.exec(sql);
  if (r.ok) {
    persisted_ = std::move(doc);
    persistedTables_ = std::move(tables);
  } else {
    lastLocalError_ = r.error;
    // Unknown now (some statements may have run): the next persist writes everything.
    persisted_.clear();
    persistedTables_.reset();
  }
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

// Reads the persisted state, or makes a new one for a database that never replicated.
bool Engine::loadState() {
  auto r = local_.exec("SELECT doc FROM _d1sync_state WHERE id=1");
  if (localFailed("cannot read _d1sync_state", r)) return false;
  auto tables = local_.exec("SELECT name, doc FROM _d1sync_tables");
  if (localFailed("cannot read _d1sync_tables", tables)) return false;
  const Counters before = state_.counters;  // errors of earlier attempts stay visible
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
    // An older database kept its tables inside the document: the next persist moves them.
    persistedTables_.emplace();
    for (size_t i = 0; i < tables.rows.size(); ++i) {
      const std::string& name = tables.rows.at(i, 0);
      if (!tableStateFromJson(tables.rows.at(i, 1), state_.tables[name])) {
        fail(ErrorCode::Internal, "_d1sync_tables holds no readable document for " + name);
        return false;
      }
      (*persistedTables_)[name] = tables.rows.at(i, 1);
    }
  } else {
    state_ = State{};
    state_.sourceId = options_.sourceId;
    state_.incarnation = hexId(random_, 2);
    persisted_.clear();
    persistedTables_.reset();
  }
  if (!before.lastError.empty()) {
    state_.counters.lastError = before.lastError;
    state_.counters.lastErrorCode = before.lastErrorCode;
    state_.counters.retries += before.retries;
  }
  loaded_ = true;
  return true;
}

bool Engine::loadOrInit(int64_t nowMs) {
  if (shape_.tenant && !isTenantLiteral(shape_.tenant->literal)) {
    fail(ErrorCode::Config,
         "tenant value [" + shape_.tenant->literal + "] is not an SQL string or integer literal");
    return false;
  }
  // A local call failing here is retried with backoff (the phase stays Init); only what no
  // retry can change stops the engine.
  auto ddl = local_.exec(bookkeepingDdl(options_.snapshot));
  if (localFailed("cannot create d1sync's bookkeeping tables", ddl)) return false;
  if (!loaded_ && !loadState()) return false;
  // A new database asked to hydrate: checked empty, then filled after the claim.
  if (options_.hydrate && persisted_.empty() && !state_.hydrate.active && !startHydrate())
    return false;
  // Through a sync endpoint the incarnation names its source, which the endpoint checks.
  fenceId_.incarnation = options_.remote     ? state_.sourceId + "/" + state_.incarnation
                         : options_.snapshot ? "snapshot-" + state_.incarnation
                                             : state_.incarnation;
  // Exact REALs (render.hpp) need SQLite's math functions; every supported host has them.
  auto math = local_.exec("SELECT atan2(0.0, -1.0), log2(8.0), floor(1.5), pow(2, -1022)");
  if (!math.ok && math.error.find("no such function") != std::string::npos) {
    fail(ErrorCode::Config,
         "the local SQLite lacks the math functions (log2, pow, floor, atan2) that exact REAL "
         "literals need: build it with SQLITE_ENABLE_MATH_FUNCTIONS");
    return false;
  }
  if (localFailed("probing the local SQLite", math)) return false;
  signedZero_ = true;
  // Sequence numbers must never repeat: if the AUTOINCREMENT high-water mark was lost, push
  // it back above what D1 already has.
  auto seq = local_.exec("SELECT max(seq) FROM _d1sync_log");
  if (localFailed("reading the outbox", seq)) return false;
  int64_t top = seq.rows.size() && !seq.rows.isNull(0, 0)
                    ? std::strtoll(seq.rows.at(0, 0).c_str(), nullptr, 10)
                    : 0;
  if (top < state_.appliedSeq) {
    std::string s = std::to_string(state_.appliedSeq);
    auto mark = local_.exec("INSERT OR IGNORE INTO _d1sync_log(seq, tbl, op, key, at_ms) VALUES (" +
                            s + ", '', 'X', '', 0); DELETE FROM _d1sync_log WHERE seq<" + s);
    if (localFailed("restoring the outbox's high-water mark", mark)) return false;
  }
  if (!countQuarantined()) return false;
  if (options_.tables) {
    auto m = local_.exec(masterQuery());
    if (localFailed("reading sqlite_master", m)) return false;
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
  if (!persist()) {
    recordError(ErrorCode::Internal, "saving d1sync's state: " + lastLocalError_);
    return false;
  }
  return true;
}

Step Engine::send(Flight kind, std::vector<std::string> statements) {
  flight_ = kind;
  ++drive_.batches;
  Step s;
  s.kind = Step::Send;
  s.batch.id = ++requestId_;
  s.batch.statements = std::move(statements);
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
  // The drive ends here, before anything is planned: a Send step must be sent and completed.
  if (drive_.untilStarted && started()) return Step{};
  if (drive_.maxBatches >= 0 && drive_.batches >= drive_.maxBatches) return Step{};
  if (retryAtMs_ > nowMs) return waitStep(retryAtMs_, nowMs);
  retryAtMs_ = 0;
  if (phase_ == Phase::Init) {
    if (!loadOrInit(nowMs)) {
      if (phase_ == Phase::Failed) return fail(fatal_.code, fatal_.message);
      return backoffStep(nowMs);
    }
    phase_ = Phase::Claim;
  }
  if (phase_ == Phase::Claim) return claim(nowMs);
  if (phase_ == Phase::Takeover) {
    auto mark = pendingMark("takeover:");
    if (!mark) return backoffStep(nowMs);
    claimMark_ = *mark;
    if (options_.remote)
      return sendRemote(Flight::Takeover, sync_protocol::kTakeover,
                        takeoverRequest(state_.sourceId, fenceId_.incarnation, state_.appliedSeq,
                                        claimMark_, theirs_.incarnation, theirs_.epoch));
    return send(Flight::Takeover,
                takeoverStatements(fenceId_, theirs_, state_.appliedSeq, claimMark_, nowMs));
  }
  if (needProbe_ && options_.remote)
    return sendRemote(Flight::Probe, sync_protocol::kProbe, probeRequest(state_.sourceId));
  if (needProbe_) return send(Flight::Probe, {sourceRowQuery(fenceId_)});
  if (state_.hydrate.active) {
    if (auto s = hydrateStep(nowMs)) return *s;
  }
  // A second pass picks up a resync that reading the outbox asked for.
  for (int pass = 0; pass < 2 && !page_; ++pass) {
    if (!refreshSchema(nowMs)) {
      if (phase_ == Phase::Failed) return fail(fatal_.code, fatal_.message);
      return backoffStep(nowMs);
    }
    // A read that failed is not "nothing to do": the error is in health() and the read is
    // retried with backoff.
    Read got = Read::Nothing;
    page_ = schemaPage();
    if (page_) got = Read::Ready;
    if (got == Read::Nothing) {
      schemaReady_ = true;
      // start() ends with the schema in D1: the copy's first page is read by the flush that
      // follows, where the look-ahead reads the second while the first is in flight.
      if (drive_.untilStarted) break;
      if (takeAhead(page_)) got = Read::Ready;
    }
    if (got == Read::Nothing) got = copyPage(page_);
    if (got == Read::Nothing) got = changesPage(page_);
    if (phase_ == Phase::Failed) return fail(fatal_.code, fatal_.message);
    if (got == Read::Failed) {
      page_.reset();
      return backoffStep(nowMs);
    }
    if (!resyncAll_ && resyncRequests_.empty()) break;
  }
  if (ahead_ && ahead_->page) ahead_.reset();  // not taken: read again, as it stands now
  if (!page_) {
    backoff_.reset();
    persist();
    if (verifying() && !drive_.untilStarted) return verifyStep(nowMs);
    return Step{};
  }
  return sendJob(nowMs);
}

Step Engine::sendJob(int64_t nowMs) {
  const Job& job = page_->jobs.front();
  const bool last = page_->jobs.size() == 1;
  std::string id = newBatchId();
  std::string before = state_.pendingBatch;
  state_.pendingBatch = id;
  if (!persist()) {
    // Unsaved, a commit whose answer is lost could not be told from another writer's.
    state_.pendingBatch = before;
    recordError(ErrorCode::Internal, "saving the id of the next batch: " + lastLocalError_);
    return backoffStep(nowMs);
  }
  int64_t applied = last && page_->kind == Page::Changes ? page_->uptoSeq : state_.appliedSeq;
  if (options_.remote) {
    Step step = sendRemoteJob(job, id, applied, nowMs);
    step.lookAhead = step.kind == Step::Send && options_.lookAhead > 0;
    return step;
  }
  std::vector<std::string> stmts;
  stmts.push_back(guardStatement(fenceId_, state_.epoch, state_.appliedSeq, state_.lastBatch));
  if (shape_.mode == SchemaMode::Strict) stmts.push_back("PRAGMA defer_foreign_keys = ON");
  for (auto& s : renderJob(job)) stmts.push_back(std::move(s));
  stmts.push_back(advanceStatement(fenceId_, applied, id, nowMs));
  flightInfo_ =
      flightOf(id, stmts, static_cast<int64_t>(job.rows()), nowMs, events_.on(LogLevel::Debug));
  Step step = send(Flight::Job, std::move(stmts));
  step.lookAhead = options_.lookAhead > 0;
  return step;
}

Engine::FlightInfo Engine::flightOf(const std::string& batchId,
                                    const std::vector<std::string>& statements, int64_t rows,
                                    int64_t nowMs, bool statementBytes) {
  FlightInfo f;
  f.batchId = batchId;
  f.statements = statements.size();
  for (const auto& s : statements) {
    f.bytes += s.size();
    if (statementBytes) f.statementBytes.push_back(s.size());
  }
  f.rows = rows;
  f.startMs = nowMs;
  return f;
}

void Engine::complete(const BatchResult& r, int64_t nowMs) {
  now_ = nowMs;
  // A batch sent ahead that its guard refused is not an error until the probe says so.
  // Nor is a first claim whose guard found the schema it carries cannot be created.
  const bool race =
      (flight_ == Flight::Job && !r.ok &&
       refusedAhead(r.failure, second_ && firstFailed_ ? second_->info : flightInfo_)) ||
      (flight_ == Flight::Claim && schemaClaimUndone(r, claimSchema_.has_value()));
  Flight f = flight_;
  flight_ = Flight::None;
  // What lookAhead() prepared assumed this batch commits.
  if (f != Flight::Job || !r.ok) ahead_.reset();
  retryFloorMs_ = r.ok ? 0 : std::max<int64_t>(0, r.failure.retryAfterMs);
  if (phase_ == Phase::Failed) return;
  state_.counters.lastSyncAt = nowMs;
  if (f != Flight::None) {
    ++state_.counters.totalSyncs;
    if (!r.ok && !race) ++state_.counters.syncErrors;
    if (r.ok) {
      state_.counters.d1RowsRead += r.rowsRead;
      state_.counters.d1RowsWritten += r.rowsWritten;
    }
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
    case Flight::Hydrate:
      onHydrate(r, nowMs);
      return;
    case Flight::Verify:
      onVerify(r, nowMs);
      return;
    case Flight::Job:
      completeJob(r, nowMs);
      return;
  }
}

void Engine::completeJob(const BatchResult& r, int64_t nowMs) {
  if (!second_ || second_->maybeCommitted) {
    aloneNext_ = false;
    if (r.ok) {
      onJobDone(nowMs);
    } else if (!overtaken(r.failure, flightInfo_)) {
      onJobFailed(r.failure, nowMs);
    }
    return;
  }
  if (!firstFailed_) {  // the first of two answers
    if (r.ok) {
      onJobDone(nowMs);  // the second batch is the one in flight now
      flight_ = Flight::Job;
    } else {
      firstFailed_ = r;
      flight_ = Flight::Job;  // the second's answer is still due
    }
    return;
  }
  BatchResult first = std::move(*firstFailed_);
  firstFailed_.reset();
  if (r.ok) {
    // Its guard needed the first batch's id in D1: the first committed, its answer was lost.
    onJobDone(nowMs);
    onJobDone(nowMs);
    return;
  }
  // The second's guard refused it: it did not commit, and the first's answer stands.
  if (r.failure.kind == D1Failure::Fenced) {
    dropSecond();
    if (!overtaken(first.failure, flightInfo_)) onJobFailed(first.failure, nowMs);
    return;
  }
  // Otherwise either may have committed: an answer can be lost, and D1 can answer every
  // request in flight with one failure (a Durable Object reset after a deferred foreign key
  // fails at commit fails them all, committed or not). The probe asks D1 which of the two it
  // holds; whatever it finds uncommitted is then sent alone, so its own failure is its own.
  second_->maybeCommitted = true;
  if (mayHaveCommitted(first.failure.kind)) {
    onJobFailed(first.failure, nowMs);
    return;
  }
  recordError(codeFor(first.failure.kind), first.failure.message);
  needProbe_ = true;
  persist();
}

// A batch sent ahead that its guard refused may only have reached D1 before the batch it
// follows (requests can overtake each other): the probe tells that from a real fence, and
// nothing is recorded as an error until it does.
bool Engine::refusedAhead(const BatchFailure& failure, const FlightInfo& info) {
  return failure.kind == D1Failure::Fenced && info.ahead;
}

bool Engine::overtaken(const BatchFailure& failure, const FlightInfo& info) {
  if (!refusedAhead(failure, info)) return false;
  needProbe_ = true;
  persist();
  return true;
}

// The batch sent after the one that just committed becomes the batch in flight.
void Engine::takeSecond() {
  Second sec = std::move(*second_);
  second_.reset();
  if (sec.page) page_ = std::move(sec.page);
  flightInfo_ = std::move(sec.info);
  state_.pendingBatch = flightInfo_.batchId;
  state_.pendingAhead.clear();
}

void Engine::dropSecond() {
  second_.reset();
  state_.pendingAhead.clear();
}

void Engine::onJobDone(int64_t nowMs) {
  Counters& c = state_.counters;
  state_.lastBatch = flightInfo_.batchId;
  state_.pendingBatch.clear();
  ++c.batchesSent;
  c.statementsSent += static_cast<int64_t>(flightInfo_.statements);
  c.bytesSent += static_cast<int64_t>(flightInfo_.bytes);
  c.rowsReplicated += flightInfo_.rows;
  c.lastSuccessAt = nowMs;
  c.syncSecondsSum += static_cast<double>(nowMs - flightInfo_.startMs) / 1000.0;
  logBatch(nowMs - flightInfo_.startMs);
  backoff_.reset();
  schemaFailures_ = 0;
  unknownFailures_ = 0;
  page_->jobs.pop_front();
  if (page_->jobs.empty()) finishPage(nowMs, false);
  if (second_) takeSecond();
  persist();
}

void Engine::finishPage(int64_t nowMs, bool save) {
  (void)nowMs;
  Page& p = *page_;
  if (p.kind == Page::Changes && p.uptoSeq > state_.appliedSeq) {
    // A trim that fails is harmless: reads start after appliedSeq and the next one trims.
    local_.exec("DELETE FROM _d1sync_log WHERE seq<=" + std::to_string(p.uptoSeq));
  }
  applyPageEffects(p, state_);
  logPage(p);
  if (!p.copies.empty() && shape_.mode == SchemaMode::Strict && initialSyncDone()) {
    // Rows whose foreign key pointed at a row a later copy page brought were refused while
    // the copy ran; now every table is in D1, send them again, together.
    local_.exec("INSERT INTO _d1sync_log(tbl, op, key, at_ms) SELECT tbl, 'Q', key, " +
                std::to_string(now_) +
                " FROM _d1sync_quarantine WHERE error LIKE '%FOREIGN KEY%' ORDER BY id; "
                "DELETE FROM _d1sync_quarantine WHERE error LIKE '%FOREIGN KEY%'");
    quarantined_ = -1;  // recounted when next asked
  }
  page_.reset();
  ++pagesFinished_;
  if (save) persist();
}

// What a page in D1 means for the state: the watermark, the copies' progress, the tables'
// phases. The same for a page that committed and for lookAhead()'s "as if it commits".
void Engine::applyPageEffects(const Page& p, State& s) {
  if (p.kind == Page::Changes && p.uptoSeq > s.appliedSeq) s.appliedSeq = p.uptoSeq;
  for (const auto& e : p.copies) {
    auto it = s.tables.find(e.table);
    if (it == s.tables.end()) continue;
    TableState& t = it->second;
    t.copyStarted = true;
    t.ranges = e.ranges;
    t.total = e.total;
    t.copied += e.rows;
    if (e.finished) {
      t.phase = t.shadow ? TablePhase::Swap : TablePhase::Live;
      t.maxRowid.clear();  // the next changes page records it
    }
  }
  for (const auto& [name, phase] : p.phases) {
    auto it = s.tables.find(name);
    if (it == s.tables.end()) continue;
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
  for (const auto& [name, max] : p.maxRowids)
    if (auto it = s.tables.find(name); it != s.tables.end()) it->second.maxRowid = max;
  for (const auto& name : p.dropped) s.tables.erase(name);
}

// Returns false (the error recorded) when the quarantine could not be written: the change
// must then stay in the outbox.
bool Engine::quarantine(const std::string& table, const std::string& key, ErrorCode code,
                        const std::string& error, int64_t nowMs) {
  // One row per (table, key): a replaced entry does not change the count (an index seek).
  auto known = local_.exec("SELECT 1 FROM _d1sync_quarantine WHERE tbl=" + quoteText(table) +
                           " AND key=" + quoteText(key));
  if (localFailed("cannot quarantine a change of " + table + " (it stays in the outbox)", known))
    return false;
  auto r = local_.exec(
      "INSERT OR REPLACE INTO _d1sync_quarantine(tbl, key, code, error, at_ms) VALUES (" +
      quoteText(table) + ", " + quoteText(key) + ", " + quoteText(codeName(code)) + ", " +
      quoteText(error) + ", " + std::to_string(nowMs) + ")");
  if (localFailed("cannot quarantine a change of " + table + " (it stays in the outbox)", r)) {
    quarantined_ = -1;  // recounted: the insert may have run
    return false;
  }
  if (quarantined_ >= 0 && known.rows.size() == 0) ++quarantined_;
  // The table and the code, not the key: a key is a row's value too.
  events_.add(LogLevel::Warn, "quarantined",
              {{"sourceId", fenceId_.sourceId}, {"table", table}, {"code", codeName(code)}});
  return true;
}

bool Engine::countQuarantined() {
  auto r = local_.exec("SELECT count(*) FROM _d1sync_quarantine");
  if (localFailed("counting quarantined changes", r)) return false;
  quarantined_ = r.rows.size() ? std::strtoll(r.rows.at(0, 0).c_str(), nullptr, 10) : 0;
  return true;
}

void Engine::onJobFailed(const BatchFailure& failure, int64_t nowMs) {
  D1Failure f = failure.kind;
  const std::string& error = failure.message;
  recordError(codeFor(f), error);
  switch (f) {
    case D1Failure::Fenced:
      // Our own commit whose answer was lost looks the same: the probe tells them apart.
      needProbe_ = true;
      break;
    case D1Failure::Refused:
      fail(ErrorCode::Config, error);
      return;
    case D1Failure::Transient:
    case D1Failure::Other:
      if (!retryUnknown(f, error, nowMs)) return;
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
    case D1Failure::DeferredFk:
      onRecordsRefused(f, error, nowMs);
      break;
  }
  persist();
}

// D1 refused the front job for its size or for a row: split it, send a lone record once
// more, then quarantine it; what can be neither split nor quarantined is retried with backoff.
void Engine::onRecordsRefused(D1Failure f, const std::string& error, int64_t nowMs) {
  Job job = std::move(page_->jobs.front());
  page_->jobs.pop_front();
  const size_t records = job.records();
  auto lone = loneRecord(job, page_->changes);
  if (records > 1) {
    Job a, b;
    const size_t maxRows = job.maxRows;
    splitJob(std::move(job), a, b);
    size_t cap = std::min(maxRows, std::max<size_t>(1, records / 2));
    a.maxRows = b.maxRows = f == D1Failure::Limit ? std::max<size_t>(1, cap / 2) : maxRows;
    page_->jobs.push_front(std::move(b));
    page_->jobs.push_front(std::move(a));
  } else if (lone && !job.retried) {
    // One refusal of a lone record may be a fluke of D1's; a row too long for one statement
    // goes again with every value it can spare sent in parts.
    job.retried = true;
    job.allParts = f == D1Failure::Limit && lone->upsert;
    page_->jobs.push_front(std::move(job));
  } else if (lone) {
    if (!quarantine(lone->table, lone->key, codeFor(f), error, nowMs)) {
      // Not written: the change stays in the job (and the outbox) and goes again later.
      ++state_.counters.retries;
      scheduleRetry(nowMs);
      page_->jobs.push_front(std::move(job));
      return;
    }
    job.slices.clear();
    // The last job carries the page's watermark advance: send it even with nothing else.
    if (page_->jobs.empty()) page_->jobs.push_front(std::move(job));
  } else {
    // A schema statement, a range delete or the watermark advance alone cannot be split or
    // quarantined (D1 under load answers "out of memory" even to those): keep sending it with
    // backoff; health() shows the error meanwhile.
    if (records == 0)
      recordError(codeFor(f), "D1 refused the watermark update alone (retrying): " + error);
    ++state_.counters.retries;
    scheduleRetry(nowMs);
    page_->jobs.push_front(std::move(job));
  }
  if (page_->jobs.empty()) finishPage(nowMs);
}

void Engine::onProbe(const BatchResult& r, int64_t nowMs) {
  if (!r.ok || r.results.empty()) {
    D1Failure f = r.ok ? D1Failure::Other : r.failure.kind;
    recordError(codeFor(f), r.failure.message);
    if (f == D1Failure::Schema) {  // _d1sync_sources is gone: D1 was reset
      needProbe_ = false;
      second_.reset();
      page_.reset();
      phase_ = Phase::Claim;
      return;
    }
    retryAfter(f, r.failure.message, nowMs);
    return;
  }
  needProbe_ = false;
  SourceRow row = parseSourceRow(r.results[0]);
  if (!row.present) {
    second_.reset();
    page_.reset();
    phase_ = Phase::Claim;
    return;
  }
  bool ours = row.incarnation == fenceId_.incarnation && row.epoch == state_.epoch;
  if (ours && second_ && second_->maybeCommitted && row.lastBatch == second_->info.batchId) {
    onJobDone(nowMs);  // both committed; only their answers were lost
    onJobDone(nowMs);
    return;
  }
  if (second_) {  // it did not commit
    dropSecond();
    aloneNext_ = true;
  }
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
  if (phase_ != Phase::Running && !inspected_) return false;
  for (const auto& [name, t] : state_.tables)
    if (t.phase != TablePhase::Live) return false;
  return true;
}

}  // namespace d1sync
