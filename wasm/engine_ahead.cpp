// Look-ahead: while D1 applies batch k, the local half reads and renders batch k+1, so the
// local work hides behind D1's and the network's (Engine::lookAhead in engine.hpp).
//
// Exactly once is untouched. With lookAhead 1 nothing prepared is sent before batch k's
// answer, its guard is built at send time from the watermark k set, and whatever k's answer
// or anything else changed (a failure, a resync, a schema change, another page finishing)
// makes next() drop what was prepared and read again. With lookAhead 2, sendAhead() sends it
// before k's answer, guarded by the id and watermark k sets: D1 refuses it unless k committed
// first, and what it carries is what k+1 would have carried had it been in flight when
// anything changed locally.
#include "engine.hpp"
#include "sql_text.hpp"

namespace d1sync {

void Engine::lookAhead(int64_t nowMs) {
  now_ = nowMs;
  if (options_.lookAhead <= 0 || ahead_ || firstFailed_ || flight_ != Flight::Job || !page_ ||
      phase_ != Phase::Running || page_->jobs.empty())
    return;
  // A drive that ends after this batch would leave the work unused.
  if (drive_.untilStarted || (drive_.maxBatches >= 0 && drive_.batches >= drive_.maxBatches))
    return;
  // With a second batch in flight (sendAhead()), the batch after that one: read while both
  // are out, as if both commit, so that it leaves as soon as the first is answered.
  const bool secondPage = second_ && second_->page;
  const Page& last = secondPage ? *second_->page : *page_;
  const size_t nextJob = !second_ ? 1 : secondPage ? 1 : 2;
  if (last.jobs.size() > nextJob) {
    // The same page's next job: only its statements are left to build.
    if (options_.remote) return;  // a sync endpoint's job is encoded when sent, cheaply
    Ahead a;
    a.job = &last.jobs[nextJob];
    a.statements = planner_.render(*a.job, last.changes, last.shapes);
    ahead_ = std::move(a);
    ++aheadPrepared_;
    return;
  }
  if (last.kind == Page::Schema || page_->kind == Page::Schema || verifying() ||
      state_.hydrate.active)
    return;
  // The next page, read from the state the pages in flight leave behind; the reads must not
  // change that state (a recopy they ask for, a renumbered rowid): if they do, next() reads
  // again.
  State saved = state_;
  const bool resyncAll = resyncAll_;
  const auto resyncRequests = resyncRequests_;
  applyPageEffects(*page_, state_);
  if (secondPage) applyPageEffects(last, state_);
  const std::string key = stateKey(state_);
  std::optional<Page> next;
  Read got = Read::Nothing;
  speculating_ = true;
  if (!schemaPage()) {
    got = copyPage(next);
    if (got == Read::Nothing) got = changesPage(next);
  }
  speculating_ = false;
  const bool clean = got == Read::Ready && stateKey(state_) == key && resyncAll_ == resyncAll &&
                     resyncRequests_ == resyncRequests;
  state_ = std::move(saved);
  resyncAll_ = resyncAll;
  resyncRequests_ = resyncRequests;
  if (!clean || phase_ != Phase::Running || next->jobs.empty()) return;
  Ahead a;
  a.stateKey = key;
  a.schemaKey = schemaKey();
  a.afterPages = pagesFinished_ + (secondPage ? 2 : 1);
  if (!options_.remote)
    a.statements = planner_.render(next->jobs.front(), next->changes, next->shapes);
  a.page = std::move(next);
  ahead_ = std::move(a);
  ++aheadPrepared_;
}

std::optional<Batch> Engine::sendAhead(int64_t nowMs) {
  now_ = nowMs;
  if (options_.lookAhead < 2 || options_.remote || aloneNext_ || !ahead_ || second_ ||
      firstFailed_ || flight_ != Flight::Job || !page_ || page_->kind == Page::Schema ||
      phase_ != Phase::Running || needProbe_ || verifying() || state_.hydrate.active ||
      drive_.untilStarted || (drive_.maxBatches >= 0 && drive_.batches >= drive_.maxBatches))
    return {};
  Ahead& a = *ahead_;
  const Job* job = nullptr;
  const Page* page = &*page_;
  // What the batch in flight leaves in D1: its id, and the watermark it advances to.
  int64_t applied = state_.appliedSeq;
  if (a.page) {
    // The next page, read as if the one in flight commits: nothing may have moved since.
    if (page_->jobs.size() != 1 || a.afterPages != pagesFinished_ + 1 ||
        a.schemaKey != schemaKey() || resyncAll_ || !resyncRequests_.empty() ||
        a.page->kind == Page::Schema || a.page->jobs.empty())
      return {};
    if (page_->kind == Page::Changes) applied = page_->uptoSeq;  // as sendJob() sent it
    page = &*a.page;
    job = &a.page->jobs.front();
  } else {
    if (page_->jobs.size() < 2 || a.job != &page_->jobs[1]) return {};
    job = a.job;
  }
  const bool last = page->jobs.size() == (a.page ? 1 : 2);
  const int64_t advance = last && page->kind == Page::Changes ? page->uptoSeq : applied;
  const std::string id = newBatchId();
  state_.pendingAhead = id;
  if (!persist()) {
    state_.pendingAhead.clear();
    return {};  // sent after the answer instead, as with lookAhead 1
  }
  std::vector<std::string> stmts;
  stmts.push_back(guardStatement(fenceId_, state_.epoch, applied, flightInfo_.batchId));
  if (shape_.mode == SchemaMode::Strict) stmts.push_back("PRAGMA defer_foreign_keys = ON");
  for (auto& st : a.statements) stmts.push_back(std::move(st));
  stmts.push_back(advanceStatement(fenceId_, advance, id, nowMs));
  Second sec;
  sec.info =
      flightOf(id, stmts, static_cast<int64_t>(job->rows()), nowMs, events_.on(LogLevel::Debug));
  sec.info.ahead = true;
  if (a.page) sec.page = std::move(a.page);
  ahead_.reset();
  second_ = std::move(sec);
  ++aheadUsed_;
  ++aheadSent_;
  ++drive_.batches;
  Batch b;
  b.id = ++requestId_;
  b.statements = std::move(stmts);
  return b;
}

// The prepared page, if it was read from the state and schema the engine has now.
bool Engine::takeAhead(std::optional<Page>& out) {
  if (!ahead_ || !ahead_->page) return false;
  Ahead a = std::move(*ahead_);
  ahead_.reset();
  if (a.afterPages != pagesFinished_ || resyncAll_ || !resyncRequests_.empty() ||
      a.stateKey != stateKey(state_) || a.schemaKey != schemaKey())
    return false;
  out = std::move(a.page);
  a.page.reset();
  if (!options_.remote) {  // its first job's statements are rendered too
    a.job = &out->jobs.front();
    ahead_ = std::move(a);
  } else {
    ++aheadUsed_;
  }
  return true;
}

std::vector<std::string> Engine::renderJob(const Job& job) {
  if (ahead_ && ahead_->job == &job) {
    auto statements = std::move(ahead_->statements);
    ahead_.reset();
    ++aheadUsed_;
    return statements;
  }
  ahead_.reset();
  return planner_.render(job, page_->changes, page_->shapes);
}

// What a page read depends on in the state: the watermark and each table's copy and phase.
std::string Engine::stateKey(const State& s) const {
  std::string key = std::to_string(s.appliedSeq);
  for (const auto& [name, t] : s.tables) {
    key += '\x1f';
    key += name;
    key += '\x1e';
    key += tableStateToJson(t);
  }
  return key;
}

// The local schema the pages were read under (tables_, as refreshSchema() last read it).
std::string Engine::schemaKey() const {
  std::string key;
  for (const auto& t : tables_) {
    key += t.name;
    key += '\x1f';
    key += t.sql;
    for (const auto& ix : t.indexes) {
      key += '\x1e';
      key += ix.name;
      key += ix.sql;
    }
    key += '\x1d';
  }
  return key;
}

}  // namespace d1sync
