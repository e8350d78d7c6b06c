// The source half's copy reader: the initial copy (and every recopy) of a table, a queue of
// key ranges (KeyRange, state.hpp) read in key order, one slice per page. What is left of the
// queue is saved with the page once D1 has it, so a copy resumes where it stopped.
#include <algorithm>
#include <cstdlib>

#include "engine.hpp"
#include "render.hpp"
#include "sql_text.hpp"

namespace d1sync {

Engine::Read Engine::copyPage(std::optional<Page>& out) {
  Page page;
  page.kind = Page::Copy;
  size_t budget = options_.limits.copyPageRows;
  for (const auto& t : tables_) {
    auto it = state_.tables.find(t.name);
    if (it == state_.tables.end() || it->second.phase != TablePhase::Copy) continue;
    const TableState& ts = it->second;
    CopyEffect e;
    e.table = t.name;
    std::vector<RowLiteral> rows;
    TableChanges tc = tableChanges(t);
    if (!copyBounds(t, ts, e) || !readCopySlice(t, e, budget, rows) || !copyChanges(t, e, rows, tc))
      return Read::Failed;
    page.changes.tables.push_back(std::move(tc));
    page.rows += e.rows;
    bool full = !e.finished;
    page.copies.push_back(std::move(e));
    if (full || budget == 0) break;
  }
  if (page.copies.empty()) return Read::Nothing;
  planPage(page);
  out = std::move(page);
  return Read::Ready;
}

// The ranges still to copy: saved, or for a copy that starts now, one range up to the largest
// key present now (later rows come through the outbox).
bool Engine::copyBounds(const Table& t, const TableState& ts, CopyEffect& e) {
  if (ts.copyStarted) {
    e.ranges = ts.ranges;
    e.total = ts.total;
    return true;
  }
  std::string desc;
  for (const auto& k : t.keyExprs("")) desc += (desc.empty() ? "" : ",") + k + " DESC";
  auto r = local_.exec("SELECT " + keyLiteralExpr(t, "") + ", (SELECT count(*) FROM " +
                       quoteIdent(t.name) + ") FROM " + quoteIdent(t.name) + " ORDER BY " + desc +
                       " LIMIT 1");
  if (localFailed("reading " + t.name, r)) return false;
  KeyRange all;
  if (r.rows.size() == 1) {
    all.upto = r.rows.at(0, 0);
    e.total = std::strtoll(r.rows.at(0, 1).c_str(), nullptr, 10);
  }
  e.ranges = {all};
  return true;
}

// The front range's rows after its cursor, in chunks sized by the bytes rows turned out to
// have, so a page stays near pageBytes whether rows hold ten bytes or a megabyte. A range read
// to its end leaves the queue; otherwise its cursor moves to the last row read.
bool Engine::readCopySlice(const Table& t, CopyEffect& e, size_t& budget,
                           std::vector<RowLiteral>& rows) {
  const Limits& L = options_.limits;
  if (e.ranges.empty()) {
    e.finished = true;
    return true;
  }
  KeyRange& range = e.ranges.front();
  e.replaces = true;
  e.deleteLow = range.low;
  bool done = !range.upto;
  size_t chunk = std::min<size_t>(budget, 256);
  size_t bytes = 0;
  std::string order;
  for (const auto& k : t.keyExprs("")) order += (order.empty() ? "" : ",") + k;
  while (!done && budget > 0 && bytes < L.pageBytes) {
    std::string where = t.keyValueExpr("") + "<=" + t.keyValue(*range.upto);
    const std::optional<std::string>& cursor =
        rows.empty() ? range.low : std::optional<std::string>(rows.back().key);
    if (cursor) where += " AND " + t.keyValueExpr("") + ">" + t.keyValue(*cursor);
    std::string sql = "SELECT " + packedSelect(t, "") + " FROM " + quoteIdent(t.name) + " WHERE " +
                      where + " ORDER BY " + order + " LIMIT " + std::to_string(chunk);
    size_t before = rows.size();
    if (!readRows(t, sql, 0, rows, nullptr)) return false;
    size_t got = rows.size() - before;
    size_t chunkBytes = 0;
    for (size_t i = before; i < rows.size(); ++i) chunkBytes += rows[i].bytes();
    bytes += chunkBytes;
    budget -= std::min(budget, got);
    done = got < chunk;
    size_t perRow = std::max<size_t>(1, chunkBytes / std::max<size_t>(1, got));
    size_t room = L.pageBytes > bytes ? (L.pageBytes - bytes) / perRow : 0;
    chunk = std::min(budget, std::max<size_t>(1, room));
  }
  e.rows = static_cast<int64_t>(rows.size());
  if (done) {
    e.deleteHigh = range.high;
    e.ranges.pop_front();
  } else {
    e.deleteHigh = range.low =
        rows.empty() ? range.low : std::optional<std::string>(rows.back().key);
  }
  e.finished = e.ranges.empty();
  return true;
}

// The slice as changes: the copied key range deleted in D1 (rows the local table lacks go),
// then its rows upserted.
bool Engine::copyChanges(const Table& t, const CopyEffect& e, std::vector<RowLiteral>& rows,
                         TableChanges& tc) {
  auto bound = [](const std::optional<std::string>& key) -> std::optional<std::string> {
    if (!key) return std::nullopt;
    return "(" + *key + ")";
  };
  if (e.replaces) {
    auto st = tc.addRangeDelete(bound(e.deleteLow), bound(e.deleteHigh));
    if (!st.ok()) {
      recordError(ErrorCode::Internal,
                  "the copy range of " + t.name + " is not made of keys: " + st.message);
      return false;
    }
  }
  reserveRows(tc, rows);
  for (auto& row : rows)
    if (!addRow(t, tc, row, false)) return false;
  return true;
}

}  // namespace d1sync
