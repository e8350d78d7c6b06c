// Reading pages from the local database (a slice of a table's initial copy, or a page of the
// outbox with the rows as they are now) and planning them into D1 batches.
#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "engine.hpp"
#include "render.hpp"
#include "sql_text.hpp"

namespace d1sync {

namespace {

std::string joinCols(const std::vector<std::string>& v, const char* suffix = "") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s + suffix;
  return out;
}

std::string keyTuple(const Table& t, const std::string& alias) {
  auto e = t.keyExprs(alias);
  return e.size() == 1 ? e[0] : "(" + joinCols(e) + ")";
}

std::string boundTuple(const Table& t, const std::string& key) {
  return t.keySize() == 1 ? key : "(" + key + ")";
}

}  // namespace

std::string Engine::selectList(const Table& t, const std::string& alias) const {
  std::string out = keyLiteralExpr(t, alias);
  std::string prefix = alias.empty() ? "" : alias + ".";
  for (size_t i : t.storedColumns()) {
    // Key values always travel inline: value parts find their row by the key.
    bool key = t.columns[i].pk > 0 && t.keyKind == KeyKind::Declared;
    size_t inlineBytes = key ? static_cast<size_t>(INT64_MAX) : options_.limits.inlineValueBytes;
    out += "," + literalExpr(prefix + quoteIdent(t.columns[i].name), inlineBytes, signedZero_);
  }
  return out;
}

std::string Engine::packedSelect(const Table& t, const std::string& alias) const {
  std::string prefix = alias.empty() ? "" : alias + ".";
  std::vector<std::string> exprs;
  if (t.keyKind == KeyKind::Rowid) exprs.push_back(t.keyExprs(alias)[0]);
  for (size_t i : t.storedColumns()) exprs.push_back(prefix + quoteIdent(t.columns[i].name));
  return keyLiteralExpr(t, alias) + "," +
         packedRowExpr(exprs, options_.limits.inlineValueBytes, signedZero_);
}

// Cells from `first` on are: key literal, packed tuple (packedSelect). Rows whose tuple is not
// plain are read again value by value (readExactRows) and take the exact path.
bool Engine::readRows(const Table& t, const std::string& sql, size_t first,
                      std::vector<RowLiteral>& out, std::vector<size_t>* unitIndex) {
  auto r = local_.exec(sql);
  if (!r.ok) {
    recordError(ErrorCode::Internal, "reading " + t.name + ": " + r.error);
    return false;
  }
  Rows& rows = r.rows;
  const TargetShape shape = shapeOf(t, false);
  const size_t room = chunker_.rowRoom(shape);
  const size_t numbers = 8 * (t.columns.size() + 1);
  const size_t from = out.size();
  std::vector<size_t> exact;  // rows of `out` whose tuple is not plain
  out.reserve(out.size() + rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (first == 2 && rows.at(i, 1) != "1") continue;  // absent: the unit becomes a delete
    RowLiteral row;
    row.key = std::move(rows.cells[i * rows.columns + first]);
    row.tuple = std::move(rows.cells[i * rows.columns + first + 1]);
    // A packed tuple's payload is below its length plus 8 bytes a number, so a short one
    // needs no exact size.
    if (!plainTuple(row.tuple) || row.tuple.size() + numbers > options_.limits.maxRowBytes) {
      row.tuple.clear();
      exact.push_back(out.size());
    }
    if (unitIndex) unitIndex->push_back(std::strtoull(rows.at(i, 0).c_str(), nullptr, 10));
    out.push_back(std::move(row));
  }
  if (!exact.empty() && !readExactRows(t, out, exact)) return false;
  // fitRow() would rebuild the upsert's prefix for every row to learn `room`: ask once.
  for (size_t i = from; i < out.size(); ++i)
    if (out[i].tupleBytes() > room) chunker_.fitRow(shape, out[i]);
  return true;
}

// The rows at `which` read again value by value (selectList), as many per query as the local
// statement limits allow.
bool Engine::readExactRows(const Table& t, std::vector<RowLiteral>& rows,
                           const std::vector<size_t>& which) {
  const Limits& L = options_.limits;
  const bool composite = t.keySize() > 1;
  const std::string head = "SELECT " + selectList(t, "") + " FROM " + quoteIdent(t.name) +
                           " WHERE " + keyTuple(t, "") +
                           (composite ? " IN (SELECT * FROM (VALUES " : " IN (");
  const std::string tail = composite ? "))" : ")";
  const size_t maxKeys = std::max<size_t>(1, L.vdbeBudget() / (t.keySize() + 4) / 2);
  const auto stored = t.storedColumns();
  for (size_t start = 0; start < which.size();) {
    // Two outbox keys equal under the key's collation share one row (and its key literal).
    std::unordered_map<std::string, std::vector<size_t>> byKey;
    std::string keys;
    size_t end = start;
    while (
        end < which.size() && end - start < maxKeys &&
        (end == start || head.size() + keys.size() + rows[which[end]].key.size() + tail.size() + 4 <
                             L.localStatementBytes)) {
      const std::string& key = rows[which[end]].key;
      keys += (end == start ? "" : ",") + (composite ? "(" + key + ")" : key);
      byKey[key].push_back(which[end]);
      ++end;
    }
    auto r = local_.exec(head + keys + tail);
    if (!r.ok || r.rows.size() != byKey.size()) {
      recordError(ErrorCode::Internal,
                  "reading rows of " + t.name + ": " + (r.ok ? "some vanished" : r.error));
      return false;
    }
    for (size_t i = 0; i < r.rows.size(); ++i) {
      auto it = byKey.find(r.rows.at(i, 0));
      if (it == byKey.end()) {
        recordError(ErrorCode::Internal, "reading rows of " + t.name + ": a key came back changed");
        return false;
      }
      RowLiteral& row = rows[it->second[0]];
      if (t.keyKind == KeyKind::Rowid) row.values.push_back(row.key);
      std::vector<size_t> big;
      std::vector<bool> bigText;
      for (size_t c = 0; c < stored.size(); ++c) {
        const std::string& cell = r.rows.at(i, 1 + c);
        if (auto b = parseBigMarker(cell)) {
          big.push_back(row.values.size());
          bigText.push_back(b->text);
          row.values.push_back(b->text ? "''" : "X''");
          row.payloadBytes += b->bytes;
        } else {
          row.payloadBytes += literalPayloadBytes(cell);
          row.values.push_back(compactTextLiteral(cell));
        }
      }
      if (!big.empty() && row.payloadBytes <= L.maxRowBytes &&
          !fetchBigValues(t, row, big, bigText))
        return false;
      for (size_t k = 1; k < it->second.size(); ++k) rows[it->second[k]] = row;
    }
    start = end;
  }
  return true;
}

bool Engine::fetchBigValues(const Table& t, RowLiteral& row, const std::vector<size_t>& columns,
                            const std::vector<bool>& text) {
  const auto stored = t.storedColumns();
  const size_t offset = t.keyKind == KeyKind::Rowid ? 1 : 0;
  const size_t piece = std::max<size_t>(1, options_.limits.localStatementBytes / 4);
  for (size_t n = 0; n < columns.size(); ++n) {
    const Column& col = t.columns[stored[columns[n] - offset]];
    std::string p = std::to_string(piece);
    std::string sql = "WITH RECURSIVE r(o) AS (VALUES(1) UNION ALL SELECT o+" + p +
                      " FROM r WHERE o+" + p + "<=length(CAST((SELECT " + quoteIdent(col.name) +
                      " FROM " + quoteIdent(t.name) + " WHERE " + keyTuple(t, "") + "=" +
                      boundTuple(t, row.key) + ") AS BLOB))) SELECT hex(substr(CAST(" +
                      quoteIdent(col.name) + " AS BLOB), r.o, " + p + ")) FROM " +
                      quoteIdent(t.name) + ", r WHERE " + keyTuple(t, "") + "=" +
                      boundTuple(t, row.key) + " ORDER BY r.o";
    auto r = local_.exec(sql);
    if (!r.ok) {
      recordError(ErrorCode::Internal, "reading a large value of " + t.name + ": " + r.error);
      return false;
    }
    ValuePart part;
    part.column = columns[n];
    part.text = text[n];
    for (size_t i = 0; i < r.rows.size(); ++i) part.hex += r.rows.at(i, 0);
    row.parts.push_back(std::move(part));
  }
  return true;
}

Engine::Read Engine::copyPage(std::optional<Page>& out) {
  Page page;
  page.kind = Page::Copy;
  std::vector<Unit> units;
  const Limits& L = options_.limits;
  size_t budget = L.copyPageRows;
  for (const auto& t : tables_) {
    auto it = state_.tables.find(t.name);
    if (it == state_.tables.end() || it->second.phase != TablePhase::Copy) continue;
    const TableState& ts = it->second;
    CopyEffect e;
    e.table = t.name;
    if (ts.copyStarted) {
      e.bounded = ts.bounded;
      e.upto = ts.upto;
      e.total = ts.total;
    } else {
      // The copy runs up to the largest key present now; later rows come through the outbox.
      std::vector<std::string> desc;
      for (const auto& k : t.keyExprs("")) desc.push_back(k + " DESC");
      auto r = local_.exec("SELECT " + keyLiteralExpr(t, "") + ", (SELECT count(*) FROM " +
                           quoteIdent(t.name) + ") FROM " + quoteIdent(t.name) + " ORDER BY " +
                           joinCols(desc) + " LIMIT 1");
      if (localFailed("reading " + t.name, r)) return Read::Failed;
      e.bounded = r.rows.size() == 1;
      if (e.bounded) {
        e.upto = r.rows.at(0, 0);
        e.total = std::strtoll(r.rows.at(0, 1).c_str(), nullptr, 10);
      }
    }
    // Read in chunks sized by the bytes rows turned out to have, so a page stays near
    // pageBytes whether rows hold ten bytes or a megabyte.
    std::vector<RowLiteral> rows;
    e.finished = !e.bounded;
    size_t chunk = std::min<size_t>(budget, 256);
    size_t bytes = 0;
    while (e.bounded && budget > 0 && bytes < L.pageBytes) {
      std::string where = keyTuple(t, "") + "<=" + boundTuple(t, e.upto);
      bool hasCursor = ts.hasCursor || !rows.empty();
      const std::string& cursor = rows.empty() ? ts.cursor : rows.back().key;
      if (hasCursor) where += " AND " + keyTuple(t, "") + ">" + boundTuple(t, cursor);
      std::string sql = "SELECT " + packedSelect(t, "") + " FROM " + quoteIdent(t.name) +
                        " WHERE " + where + " ORDER BY " + joinCols(t.keyExprs("")) + " LIMIT " +
                        std::to_string(chunk);
      size_t before = rows.size();
      if (!readRows(t, sql, 0, rows, nullptr)) return Read::Failed;
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
    // D1 rows in the copied range that the local table lacks go in the same batch.
    Unit range;
    range.kind = Unit::RangeDelete;
    range.table = t.name;
    range.hasLow = ts.hasCursor;
    range.low = ts.cursor;
    range.hasHigh = !e.finished;
    range.high = e.cursor;
    units.push_back(std::move(range));
    for (auto& row : rows) {
      Unit u;
      u.table = t.name;
      if (row.payloadBytes > options_.limits.maxRowBytes) {
        u.kind = Unit::Delete;
        u.key = row.key;
        if (!quarantine(u, ErrorCode::D1Limit,
                        "row of " + std::to_string(row.payloadBytes) + " bytes exceeds D1's " +
                            std::to_string(options_.limits.maxRowBytes) + "-byte row limit",
                        now_))
          return Read::Failed;
        continue;
      }
      u.kind = Unit::Upsert;
      u.row = std::move(row);
      units.push_back(std::move(u));
    }
    page.rows += e.rows;
    bool full = !e.finished;
    page.copies.push_back(std::move(e));
    if (full || budget == 0) break;
  }
  if (page.copies.empty()) return Read::Nothing;
  planJobs(page, std::move(units));
  out = std::move(page);
  return Read::Ready;
}

Engine::Read Engine::changesPage(std::optional<Page>& out) {
  auto log = local_.exec("SELECT seq, tbl, key, op FROM _d1sync_log WHERE seq>" +
                         std::to_string(state_.appliedSeq) + " ORDER BY seq LIMIT " +
                         std::to_string(changePageLimit_));
  if (localFailed("reading the outbox", log)) return Read::Failed;
  // Sequence numbers are contiguous (max(seq) + 1, rolled back with their transaction): a
  // gap after the watermark means outbox rows were deleted behind d1sync's back, and only a
  // recopy can recover what they described.
  int64_t first = log.rows.size() ? std::strtoll(log.rows.at(0, 0).c_str(), nullptr, 10) : 0;
  if (log.rows.size() == 0) {
    // The newest row outlives deletes (the outbox's keep trigger); an outbox created with
    // AUTOINCREMENT also remembers its high-water mark in sqlite_sequence.
    for (const char* q : {"SELECT max(seq) FROM _d1sync_log",
                          "SELECT seq FROM sqlite_sequence WHERE name='_d1sync_log'"}) {
      auto top = local_.exec(q);
      // sqlite_sequence exists only beside an AUTOINCREMENT table: its absence is no failure.
      if (q[7] == 'm' && localFailed("reading the outbox", top)) return Read::Failed;
      if (top.ok && top.rows.size() == 1 && !top.rows.isNull(0, 0))
        first = std::max<int64_t>(first, std::strtoll(top.rows.at(0, 0).c_str(), nullptr, 10) + 1);
    }
  }
  if (first > state_.appliedSeq + 1) {
    warn("outbox rows " + std::to_string(state_.appliedSeq + 1) + ".." + std::to_string(first - 1) +
         " were deleted before reaching D1: every table is recopied");
    resyncAll_ = true;
    if (log.rows.size() == 0) {
      // Nothing left to send: move D1's watermark past the gap; the recopy follows.
      Page page;
      page.kind = Page::Changes;
      page.uptoSeq = first - 1;
      planJobs(page, {});
      out = std::move(page);
      return Read::Ready;
    }
  }
  if (log.rows.size() == 0) return Read::Nothing;
  Page page;
  page.kind = Page::Changes;
  page.uptoSeq = std::strtoll(log.rows.at(log.rows.size() - 1, 0).c_str(), nullptr, 10);

  // Coalesce: one unit per (table, key), whatever happened to it in between.
  std::vector<std::string> order;
  std::unordered_map<std::string, std::vector<std::string>> keys;
  std::unordered_map<std::string, std::unordered_map<std::string, char>> lastOp;
  for (size_t i = 0; i < log.rows.size(); ++i) {
    const std::string& tbl = log.rows.at(i, 1);
    const std::string& key = log.rows.at(i, 2);
    if (!keys.count(tbl)) order.push_back(tbl);
    auto& ops = lastOp[tbl];
    if (!ops.count(key)) keys[tbl].push_back(key);
    ops[key] = log.rows.at(i, 3).empty() ? '?' : log.rows.at(i, 3)[0];
  }
  if (!checkRowids(log.rows, page)) return Read::Failed;

  std::vector<Unit> deletes, upserts;
  const Limits& L = options_.limits;
  for (const auto& t : tables_) {
    auto kit = keys.find(t.name);
    if (kit == keys.end()) continue;  // changes of dropped or unreplicated tables fall away
    const auto& tkeys = kit->second;
    std::vector<bool> present(tkeys.size(), false);
    const std::string select = packedSelect(t, "t");
    std::string on;
    auto exprs = t.keyExprs("t");
    for (size_t k = 0; k < exprs.size(); ++k)
      on += (k ? " AND " : "") + exprs[k] + "=v.column" + std::to_string(k + 2);
    const std::string head =
        "SELECT v.column1, " + exprs[0] + " IS NOT NULL, " + select + " FROM (VALUES ";
    const std::string tail = ") AS v LEFT JOIN " + quoteIdent(t.name) + " AS t ON " + on;
    const size_t maxKeys = std::max<size_t>(1, L.vdbeBudget() / (t.keySize() + 4) / 2);
    std::unordered_set<std::string> sent;
    for (size_t start = 0; start < tkeys.size();) {
      std::string values;
      size_t end = start;
      while (end < tkeys.size() && end - start < maxKeys &&
             (end == start || head.size() + values.size() + tkeys[end].size() + tail.size() + 24 <
                                  L.localStatementBytes)) {
        values += (end == start ? "(" : ",(") + std::to_string(end) + "," + tkeys[end] + ")";
        ++end;
      }
      std::vector<RowLiteral> rows;
      std::vector<size_t> index;
      if (!readRows(t, head + values + tail, 2, rows, &index)) return Read::Failed;
      for (size_t i = 0; i < rows.size(); ++i) {
        present[index[i]] = true;
        if (!sent.insert(rows[i].key).second) continue;  // two keys equal under a collation
        Unit u;
        u.table = t.name;
        if (rows[i].payloadBytes > L.maxRowBytes) {
          u.kind = Unit::Delete;
          u.key = rows[i].key;
          if (!quarantine(u, ErrorCode::D1Limit,
                          "row of " + std::to_string(rows[i].payloadBytes) +
                              " bytes exceeds D1's " + std::to_string(L.maxRowBytes) +
                              "-byte row limit",
                          now_))
            return Read::Failed;
          deletes.push_back(std::move(u));
          continue;
        }
        u.kind = Unit::Upsert;
        u.row = std::move(rows[i]);
        upserts.push_back(std::move(u));
      }
      start = end;
    }
    std::vector<std::string> absent;
    for (size_t k = 0; k < tkeys.size(); ++k) {
      if (present[k]) continue;
      absent.push_back(tkeys[k]);
      Unit u;
      u.kind = Unit::Delete;
      u.table = t.name;
      u.key = tkeys[k];
      deletes.push_back(std::move(u));
    }
    if (t.keyKind == KeyKind::Rowid) noteVanishedRows(t, absent, lastOp[t.name]);
  }
  // Deletes first (children before parents), then upserts (parents before children): a key
  // that only changed case under NOCASE is deleted and then written under its new spelling.
  auto pos = [&](const std::string& n) {
    for (size_t i = 0; i < tables_.size(); ++i)
      if (tables_[i].name == n) return i;
    return tables_.size();
  };
  std::stable_sort(deletes.begin(), deletes.end(),
                   [&](const Unit& a, const Unit& b) { return pos(a.table) > pos(b.table); });
  std::vector<Unit> units = std::move(deletes);
  for (auto& u : upserts) units.push_back(std::move(u));
  page.rows = static_cast<int64_t>(upserts.size());
  // Size the next page by the bytes a change turned out to carry.
  size_t bytes = 0;
  for (const auto& u : units) bytes += u.row.bytes() + u.key.size();
  size_t perChange = std::max<size_t>(1, bytes / log.rows.size());
  changePageLimit_ = std::clamp<size_t>(L.pageBytes / perChange, 64, L.pageChanges);
  planJobs(page, std::move(units));
  out = std::move(page);
  return Read::Ready;
}

void Engine::planJobs(Page& page, std::vector<Unit> units) {
  const Limits& L = options_.limits;
  const size_t maxStatements = static_cast<size_t>(
      std::max(4, std::min(L.maxStatementsPerBatch, L.queriesPerInvocation) - 3));
  const size_t maxRows = std::max<size_t>(1, L.rowsPerBatchByTime());
  Job job;
  double statements = 0;
  size_t bytes = 0, rows = 0;
  std::string groupTable;
  int groupKind = -1;
  auto close = [&] {
    page.jobs.push_back(std::move(job));
    job = Job{};
    statements = 0;
    bytes = rows = 0;
    groupKind = -1;
  };
  for (auto& u : units) {
    size_t ubytes = 64;
    double ustatements = 0;
    if (u.kind == Unit::Upsert) {
      ubytes = u.row.tupleBytes();
      // A row's share of a statement, by bytes and by the VDBE row cap.
      ustatements = std::max(static_cast<double>(ubytes) / (L.maxStatementBytes * 0.9),
                             1.0 / static_cast<double>(std::max<size_t>(1, L.vdbeBudget() / 128)));
      for (const auto& p : u.row.parts) {
        ubytes += p.hex.size();
        ustatements += 1.0 + static_cast<double>(p.hex.size()) / (2.0 * L.partBytes);
      }
    } else if (u.kind == Unit::Delete) {
      ubytes = u.key.size() + 1;
      ustatements = static_cast<double>(ubytes) / (L.maxStatementBytes * 0.9);
    } else {
      ubytes = u.sql.size() + 200;
      ustatements = 1;
    }
    if (groupKind != static_cast<int>(u.kind) || groupTable != u.table) ustatements += 1;
    if (!job.units.empty() && (statements + ustatements > static_cast<double>(maxStatements) ||
                               bytes + ubytes > L.maxBatchBytes || rows + u.rows() > maxRows))
      close();
    statements += ustatements;
    bytes += ubytes;
    rows += u.rows();
    groupKind = static_cast<int>(u.kind);
    groupTable = u.table;
    job.units.push_back(std::move(u));
  }
  if (!job.units.empty() || page.jobs.empty()) page.jobs.push_back(std::move(job));
}

std::vector<std::string> Engine::renderUnits(const Job& job) const {
  std::vector<std::string> out;
  auto tableOf = [&](const std::string& name) -> const Table* {
    for (const auto& t : tables_)
      if (t.name == name) return &t;
    return nullptr;
  };
  for (size_t i = 0; i < job.units.size();) {
    const Unit& u = job.units[i];
    if (u.kind == Unit::Statement) {
      out.push_back(u.sql);
      ++i;
      continue;
    }
    const Table* t = tableOf(u.table);
    auto st = state_.tables.find(u.table);
    if (!t || st == state_.tables.end()) {
      ++i;
      continue;
    }
    const TargetShape shape = shapeOf(*t, st->second.shadow);
    if (u.kind == Unit::RangeDelete) {
      out.push_back(
          chunker_.rangeDelete(shape, u.hasLow ? &u.low : nullptr, u.hasHigh ? &u.high : nullptr));
      ++i;
      continue;
    }
    size_t j = i;
    while (j < job.units.size() && job.units[j].kind == u.kind && job.units[j].table == u.table)
      ++j;
    if (u.kind == Unit::Delete) {
      std::vector<std::string> keys;
      for (size_t k = i; k < j; ++k) keys.push_back(job.units[k].key);
      for (auto& s : chunker_.deletes(shape, keys, job.maxRows)) out.push_back(std::move(s));
    } else {
      std::vector<const RowLiteral*> simple;
      for (size_t k = i; k < j; ++k)
        if (job.units[k].row.parts.empty()) simple.push_back(&job.units[k].row);
      for (auto& s : chunker_.upserts(shape, simple, job.maxRows)) out.push_back(std::move(s));
      for (size_t k = i; k < j; ++k)
        if (!job.units[k].row.parts.empty())
          for (auto& s : chunker_.upsertWithParts(shape, job.units[k].row))
            out.push_back(std::move(s));
    }
    i = j;
  }
  return out;
}

}  // namespace d1sync
