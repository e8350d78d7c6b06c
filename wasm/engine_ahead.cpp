// Look-ahead: while D1 applies batch k, the local half reads and renders batch k+1, so the
// local work hides behind D1's and the network's (Engine::lookAhead in engine.hpp).
//
// Exactly once is untouched: nothing prepared is sent before batch k's answer, its guard is
// built at send time from the watermark k set, and whatever k's answer or anything else
// changed (a failure, a resync, a schema change, another page finishing) makes next() drop
// what was prepared and read again.
#include "engine.hpp"
#include "sql_text.hpp"

namespace d1sync {

void Engine::lookAhead(int64_t nowMs) {
  now_ = nowMs;
  if (options_.lookAhead <= 0 || ahead_ || flight_ != Flight::Job || !page_ ||
      phase_ != Phase::Running || page_->jobs.empty())
    return;
  // A drive that ends after this batch would leave the work unused.
  if (drive_.untilStarted || (drive_.maxBatches >= 0 && drive_.batches >= drive_.maxBatches))
    return;
  if (page_->jobs.size() > 1) {
    // The same page's next job: only its statements are left to build.
    if (options_.remote) return;  // a sync endpoint's job is encoded when sent, cheaply
    Ahead a;
    a.job = &page_->jobs[1];
    a.statements = planner_.render(*a.job, page_->changes, page_->shapes);
    ahead_ = std::move(a);
    ++aheadPrepared_;
    return;
  }
  if (page_->kind == Page::Schema || verifying() || state_.hydrate.active) return;
  // The next page, read from the state this page leaves behind; the reads must not change
  // that state (a recopy they ask for, a renumbered rowid): if they do, next() reads again.
  State saved = state_;
  const bool resyncAll = resyncAll_;
  const auto resyncRequests = resyncRequests_;
  applyPageEffects(*page_, state_);
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
  a.afterPages = pagesFinished_ + 1;
  if (!options_.remote)
    a.statements = planner_.render(next->jobs.front(), next->changes, next->shapes);
  a.page = std::move(next);
  ahead_ = std::move(a);
  ++aheadPrepared_;
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
