// Tables keyed by rowid: VACUUM may renumber their rowids without firing a trigger, after
// which D1 holds the rows under their old numbers. Two signs give it away, both checked on
// every page of changes: max(rowid) fell without the old maximum being deleted through the
// outbox, or a row the outbox inserted or updated is gone without a logged delete. Either
// way the table is copied again.
#include <cstdlib>

#include "engine.hpp"
#include "sql_text.hpp"

namespace d1sync {

namespace {

bool deletedInLog(const Rows& log, const std::string& table, const std::string& key) {
  for (size_t i = 0; i < log.size(); ++i)
    if (log.at(i, 1) == table && log.at(i, 2) == key &&
        (log.at(i, 3) == "D" || log.at(i, 3) == "R"))
      return true;
  return false;
}

}  // namespace

bool Engine::checkRowids(const Rows& log, Page& page) {
  std::vector<const Table*> tables;
  std::string sql;
  for (const auto& t : tables_) {
    auto it = state_.tables.find(t.name);
    if (t.keyKind != KeyKind::Rowid || it == state_.tables.end() ||
        it->second.phase != TablePhase::Live)
      continue;
    sql += std::string(sql.empty() ? "SELECT " : ", ") + "(SELECT max(" + t.rowidName + ") FROM " +
           quoteIdent(t.name) + ")";
    tables.push_back(&t);
  }
  if (tables.empty()) return true;
  auto r = local_.exec(sql);
  if (localFailed("reading the largest rowids", r)) return false;
  if (r.rows.size() != 1) return true;
  for (size_t i = 0; i < tables.size(); ++i) {
    const std::string& name = tables[i]->name;
    const std::string now = r.rows.isNull(0, i) ? "" : r.rows.at(0, i);
    const std::string& before = state_.tables[name].maxRowid;
    if (!before.empty()) {
      bool fell = now.empty() || std::strtoll(now.c_str(), nullptr, 10) <
                                     std::strtoll(before.c_str(), nullptr, 10);
      if (fell && !deletedInLog(log, name, before)) {
        warn("rowids of " + name + " were renumbered (VACUUM?): recopying it");
        resyncRequests_.insert(name);
      }
    }
    page.maxRowids.emplace_back(name, now);
  }
  return true;
}

void Engine::noteVanishedRows(const Table& t, const std::vector<std::string>& absent,
                              const std::unordered_map<std::string, char>& lastOp) {
  for (const auto& key : absent) {
    auto it = lastOp.find(key);
    if (it == lastOp.end() || (it->second != 'I' && it->second != 'U')) continue;
    warn("a row of " + t.name + " vanished without a delete (VACUUM?): recopying it");
    resyncRequests_.insert(t.name);
    return;
  }
}

}  // namespace d1sync
