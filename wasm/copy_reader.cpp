// The source half's copy reader: the initial copy (and every recopy) of a table, in key order
// up to the largest key present when the copy began, one slice per page. The cursor and the
// bound are saved with the page once D1 has it, so a copy resumes where it stopped.
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
    if (!copyBounds(t, ts, e) || !readCopySlice(t, ts, e, budget, rows) ||
        !copyChanges(t, ts, e, rows, tc))
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

// Where the copy ends: saved when it began, or the largest key present now (later rows come
// through the outbox).
bool Engine::copyBounds(const Table& t, const TableState& ts, CopyEffect& e) {
  if (ts.copyStarted) {
    e.bounded = ts.bounded;
    e.upto = ts.upto;
    e.total = ts.total;
    return true;
  }
  std::string desc;
  for (const auto& k : t.keyExprs("")) desc += (desc.empty() ? "" : ",") + k + " DESC";
  auto r = local_.exec("SELECT " + keyLiteralExpr(t, "") + ", (SELECT count(*) FROM " +
                       quoteIdent(t.name) + ") FROM " + quoteIdent(t.name) + " ORDER BY " + desc +
                       " LIMIT 1");
  if (localFailed("reading " + t.name, r)) return false;
  e.bounded = r.rows.size() == 1;
  if (e.bounded) {
    e.upto = r.rows.at(0, 0);
    e.total = std::strtoll(r.rows.at(0, 1).c_str(), nullptr, 10);
  }
  return true;
}

// The rows after the cursor, in chunks sized by the bytes rows turned out to have, so a page
// stays near pageBytes whether rows hold ten bytes or a megabyte.
bool Engine::readCopySlice(const Table& t, const TableState& ts, CopyEffect& e, size_t& budget,
                           std::vector<RowLiteral>& rows) {
  const Limits& L = options_.limits;
  e.finished = !e.bounded;
  size_t chunk = std::min<size_t>(budget, 256);
  size_t bytes = 0;
  std::string order;
  for (const auto& k : t.keyExprs("")) order += (order.empty() ? "" : ",") + k;
  while (e.bounded && budget > 0 && bytes < L.pageBytes) {
    std::string where = t.keyValueExpr("") + "<=" + t.keyValue(e.upto);
    const std::string& cursor = rows.empty() ? ts.cursor : rows.back().key;
    if (ts.hasCursor || !rows.empty())
      where += " AND " + t.keyValueExpr("") + ">" + t.keyValue(cursor);
    std::string sql = "SELECT " + packedSelect(t, "") + " FROM " + quoteIdent(t.name) + " WHERE " +
                      where + " ORDER BY " + order + " LIMIT " + std::to_string(chunk);
    size_t before = rows.size();
    if (!readRows(t, sql, 0, rows, nullptr)) return false;
    size_t got = rows.size() - before;
    size_t chunkBytes = 0;
    for (size_t i = before; i < rows.size(); ++i) chunkBytes += rows[i].bytes();
    bytes += chunkBytes;
    budget -= std::min(budget, got);
    if (got < chunk) {
      e.finished = true;
      break;
    }
    size_t perRow = std::max<size_t>(1, chunkBytes / std::max<size_t>(1, got));
    size_t room = L.pageBytes > bytes ? (L.pageBytes - bytes) / perRow : 0;
    chunk = std::min(budget, std::max<size_t>(1, room));
  }
  e.rows = static_cast<int64_t>(rows.size());
  e.hasCursor = ts.hasCursor || !rows.empty();
  e.cursor = rows.empty() ? ts.cursor : rows.back().key;
  return true;
}

// The slice as changes: the copied key range deleted in D1 (rows the local table lacks go),
// then its rows upserted.
bool Engine::copyChanges(const Table& t, const TableState& ts, const CopyEffect& e,
                         std::vector<RowLiteral>& rows, TableChanges& tc) {
  auto bound = [](bool has, const std::string& key) -> std::optional<std::string> {
    if (!has) return std::nullopt;
    return "(" + key + ")";
  };
  auto st = tc.addRangeDelete(bound(ts.hasCursor, ts.cursor), bound(!e.finished, e.cursor));
  if (!st.ok()) {
    recordError(ErrorCode::Internal,
                "the copy cursor of " + t.name + " is not a key: " + st.message);
    return false;
  }
  size_t tupleBytes = 0;
  for (const auto& row : rows) tupleBytes += row.tupleBytes();
  tc.upserts.reserve(rows.size(), tupleBytes);
  for (auto& row : rows)
    if (!addRow(t, tc, row, false)) return false;
  return true;
}

}  // namespace d1sync
