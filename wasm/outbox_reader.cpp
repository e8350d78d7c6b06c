// The source half's outbox reader: a page of _d1sync_log, coalesced to one record per
// (table, key), checked, and joined with the rows as they are now into a changeset.
#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "engine.hpp"
#include "sql_text.hpp"

namespace d1sync {

namespace {

// One record per (table, key), whatever happened to it in between; keys in first-seen order.
struct Coalesced {
  std::unordered_map<std::string, std::vector<std::string>> keys;
  std::unordered_map<std::string, std::unordered_map<std::string, char>> lastOp;
};

Coalesced coalesce(const Rows& log) {
  Coalesced c;
  for (size_t i = 0; i < log.size(); ++i) {
    const std::string& tbl = log.at(i, 1);
    const std::string& key = log.at(i, 2);
    auto& ops = c.lastOp[tbl];
    if (!ops.count(key)) c.keys[tbl].push_back(key);
    ops[key] = log.at(i, 3).empty() ? '?' : log.at(i, 3)[0];
  }
  return c;
}

int64_t seqAt(const Rows& log, size_t row) {
  return std::strtoll(log.at(row, 0).c_str(), nullptr, 10);
}

}  // namespace

Engine::Read Engine::changesPage(std::optional<Page>& out) {
  auto log = local_.exec("SELECT seq, tbl, key, op FROM _d1sync_log WHERE seq>" +
                         std::to_string(state_.appliedSeq) + " ORDER BY seq LIMIT " +
                         std::to_string(changePageLimit_));
  if (localFailed("reading the outbox", log)) return Read::Failed;
  Page page;
  page.kind = Page::Changes;
  int64_t first = log.rows.size() ? seqAt(log.rows, 0) : 0;
  if (!log.rows.size() && !outboxTop(first)) return Read::Failed;
  if (first > state_.appliedSeq + 1) {
    // Sequence numbers are contiguous (max(seq) + 1, rolled back with their transaction): a
    // gap after the watermark means outbox rows were deleted behind d1sync's back, and only
    // a recopy can recover what they described.
    warn("outbox rows " + std::to_string(state_.appliedSeq + 1) + ".." + std::to_string(first - 1) +
         " were deleted before reaching D1: every table is recopied");
    resyncAll_ = true;
    // Nothing left to send: move D1's watermark past the gap; the recopy follows.
    page.uptoSeq = first - 1;
  }
  if (log.rows.size() == 0) {
    if (page.uptoSeq == 0) return Read::Nothing;
    planPage(page);
    out = std::move(page);
    return Read::Ready;
  }
  page.uptoSeq = seqAt(log.rows, log.rows.size() - 1);
  Coalesced c = coalesce(log.rows);
  if (!checkRowids(log.rows, page)) return Read::Failed;
  for (const auto& t : tables_) {
    auto kit = c.keys.find(t.name);
    if (kit == c.keys.end()) continue;  // changes of dropped or unreplicated tables fall away
    TableChanges tc = tableChanges(t);
    std::vector<std::string> keys = std::move(kit->second);
    if (!checkOutboxKeys(t, keys) || !readChanges(t, keys, c.lastOp[t.name], tc))
      return Read::Failed;
    page.rows += static_cast<int64_t>(tc.upserts.size());
    page.changes.tables.push_back(std::move(tc));
  }
  // Size the next page by the bytes a change turned out to carry.
  size_t bytes = 0;
  for (const auto& tc : page.changes.tables) bytes += tc.upserts.bytes() + tc.deletes.bytes();
  size_t perChange = std::max<size_t>(1, bytes / log.rows.size());
  const Limits& L = options_.limits;
  changePageLimit_ = std::clamp<size_t>(L.pageBytes / perChange, 64, L.pageChanges);
  planPage(page);
  out = std::move(page);
  return Read::Ready;
}

// With nothing after the watermark, the sequence the next change will take, from what the
// outbox remembers: its newest row outlives deletes (the keep trigger), and an outbox created
// with AUTOINCREMENT keeps its high-water mark in sqlite_sequence.
bool Engine::outboxTop(int64_t& next) {
  for (const char* q : {"SELECT max(seq) FROM _d1sync_log",
                        "SELECT seq FROM sqlite_sequence WHERE name='_d1sync_log'"}) {
    auto top = local_.exec(q);
    // sqlite_sequence exists only beside an AUTOINCREMENT table: its absence is no failure.
    if (q[7] == 'm' && localFailed("reading the outbox", top)) return false;
    if (top.ok && top.rows.size() == 1 && !top.rows.isNull(0, 0))
      next = std::max<int64_t>(next, seqAt(top.rows, 0) + 1);
  }
  return true;
}

// Keys come back from the outbox as text: each must be the table's key as SQL literals before
// it goes into a query, here or in D1. One that is not is quarantined (named, never run).
bool Engine::checkOutboxKeys(const Table& t, std::vector<std::string>& keys) {
  std::vector<std::string> good;
  good.reserve(keys.size());
  for (auto& key : keys) {
    auto st = checkKeyList(key, t.keySize(), t.keyKind == KeyKind::Rowid);
    if (st.ok()) {
      good.push_back(std::move(key));
    } else if (!quarantine(t.name, key, ErrorCode::Internal,
                           "the outbox holds a key of " + t.name +
                               " that is not the table's key as SQL literals: " + st.message,
                           now_)) {
      return false;
    }
  }
  keys = std::move(good);
  return true;
}

// The rows of `keys` as they are now: present ones become upserts, absent ones deletes.
bool Engine::readChanges(const Table& t, std::vector<std::string>& keys,
                         const std::unordered_map<std::string, char>& lastOp, TableChanges& tc) {
  const Limits& L = options_.limits;
  std::vector<bool> present(keys.size(), false);
  std::string on;
  auto exprs = t.keyExprs("t");
  for (size_t k = 0; k < exprs.size(); ++k)
    on += (k ? " AND " : "") + exprs[k] + "=v.column" + std::to_string(k + 2);
  const std::string head =
      "SELECT v.column1, " + exprs[0] + " IS NOT NULL, " + packedSelect(t, "t") + " FROM (VALUES ";
  const std::string tail = ") AS v LEFT JOIN " + quoteIdent(t.name) + " AS t ON " + on;
  const size_t maxKeys = std::max<size_t>(1, L.vdbeBudget() / (t.keySize() + 4) / 2);
  std::unordered_set<std::string> sent;
  for (size_t start = 0; start < keys.size();) {
    std::string values;
    size_t end = start;
    while (end < keys.size() && end - start < maxKeys &&
           (end == start || head.size() + values.size() + keys[end].size() + tail.size() + 24 <
                                L.localStatementBytes)) {
      values += (end == start ? "(" : ",(") + std::to_string(end) + "," + keys[end] + ")";
      ++end;
    }
    std::vector<RowLiteral> rows;
    std::vector<size_t> index;
    if (!readRows(t, head + values + tail, 2, rows, &index)) return false;
    reserveRows(tc, rows);
    for (size_t i = 0; i < rows.size(); ++i) {
      present[index[i]] = true;
      if (!sent.insert(rows[i].key).second) continue;  // two keys equal under a collation
      if (!addRow(t, tc, rows[i], true)) return false;
    }
    start = end;
  }
  std::vector<std::string> absent;
  for (size_t k = 0; k < keys.size(); ++k) {
    if (present[k]) continue;
    // Checked by checkOutboxKeys: a failure here is a bug, reported rather than dropped.
    if (auto st = tc.addDelete("(" + keys[k] + ")"); !st.ok()) {
      recordError(ErrorCode::Internal, "a key of " + t.name + ": " + st.message);
      return false;
    }
    absent.push_back(std::move(keys[k]));
  }
  if (t.keyKind == KeyKind::Rowid) noteVanishedRows(t, absent, lastOp);
  return true;
}

}  // namespace d1sync
