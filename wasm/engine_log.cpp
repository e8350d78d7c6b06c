// The engine's log events (events.hpp): where each is raised and what it may say.
#include <algorithm>

#include "engine.hpp"

namespace d1sync {

namespace {

// Messages the engine writes itself about options, ownership and schema: they name tables,
// columns and sourceIds, never rows. Other codes may carry D1's text, which can quote a
// statement and so a value: those stay in health().lastError.
bool ownMessage(ErrorCode code) {
  return code == ErrorCode::Fenced || code == ErrorCode::Config || code == ErrorCode::Schema;
}

}  // namespace

void Engine::logFailure(ErrorCode code, const std::string& message) {
  nlohmann::json f = {{"sourceId", fenceId_.sourceId}, {"code", codeName(code)}};
  if (ownMessage(code)) f["message"] = message;
  events_.add(LogLevel::Warn, code == ErrorCode::Fenced ? "fenced" : "failed", std::move(f));
}

void Engine::logRetry(int64_t delayMs) {
  events_.add(
      LogLevel::Warn, "retry",
      {{"sourceId", fenceId_.sourceId},
       {"code", state_.counters.lastErrorCode.empty() ? "INTERNAL" : state_.counters.lastErrorCode},
       {"delayMs", delayMs},
       {"attempt", backoff_.failures()}});
}

void Engine::logBatch(int64_t ms) {
  if (!events_.on(LogLevel::Info)) return;
  nlohmann::json f = {{"sourceId", fenceId_.sourceId},
                      {"kind", page_->kind == Page::Schema ? "schema"
                               : page_->kind == Page::Copy ? "copy"
                                                           : "changes"},
                      {"rows", flightInfo_.rows},
                      {"statements", flightInfo_.statements},
                      {"bytes", flightInfo_.bytes},
                      {"ms", ms}};
  if (events_.on(LogLevel::Debug)) f["statementBytes"] = flightInfo_.statementBytes;
  events_.add(LogLevel::Info, "batch", std::move(f));
}

// Called with the page D1 just finished: a schema change followed, and each tenth of a
// table's initial copy.
void Engine::logPage(const Page& p) {
  if (!events_.on(LogLevel::Info)) return;
  if (p.kind == Page::Schema && (!p.phases.empty() || !p.dropped.empty())) {
    std::vector<std::string> tables;
    for (const auto& [name, phase] : p.phases) tables.push_back(name);
    events_.add(LogLevel::Info, "schema",
                {{"sourceId", fenceId_.sourceId}, {"tables", tables}, {"dropped", p.dropped}});
  }
  for (const auto& e : p.copies) {
    auto it = state_.tables.find(e.table);
    if (it == state_.tables.end()) continue;
    const TableState& t = it->second;
    int64_t tenths = e.finished    ? 10
                     : t.total > 0 ? std::min<int64_t>(9, t.copied * 10 / t.total)
                                   : 0;
    int64_t& logged = copyTenthsLogged_[e.table];
    if (t.copied == e.rows) logged = 0;  // a copy's first page: a resync starts again
    if (tenths <= logged) continue;
    logged = tenths;
    events_.add(LogLevel::Info, "progress",
                {{"sourceId", fenceId_.sourceId},
                 {"table", e.table},
                 {"percent", tenths * 10},
                 {"copied", t.copied},
                 {"total", std::max(t.total, t.copied)}});
  }
}

}  // namespace d1sync
