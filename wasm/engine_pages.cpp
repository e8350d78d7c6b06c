// The source half: reads pages from the local database (a slice of a table's initial copy, or
// a page of the outbox with the rows as they are now) into a changeset (changeset.hpp), which
// the planner (planner.hpp) turns into D1 batches. Every row tuple and key enters the
// changeset through its checks, so nothing reaches D1 that is not a literal of its grammar.
#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "engine.hpp"
#include "render.hpp"
#include "sql_text.hpp"

namespace d1sync {

namespace {

// A row as one tuple: packed, or joined from its values.
std::string tupleText(RowLiteral& row) {
  if (!row.tuple.empty()) return std::move(row.tuple);
  std::string out = "(";
  for (size_t i = 0; i < row.values.size(); ++i) out += (i ? "," : "") + row.values[i];
  return out + ")";
}

}  // namespace

std::string Engine::selectList(const Table& t, const std::string& alias) const {
  std::string out = keyLiteralExpr(t, alias);
  std::string prefix = alias.empty() ? "" : alias + ".";
  for (size_t i : t.tupleOrder()) {
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
  for (size_t i : t.tupleOrder()) exprs.push_back(prefix + quoteIdent(t.columns[i].name));
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
  const size_t numbers = 8 * (t.columns.size() + 1);
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
  return exact.empty() || readExactRows(t, out, exact);
}

// The rows at `which` read again value by value (selectList), as many per query as the local
// statement limits allow.
bool Engine::readExactRows(const Table& t, std::vector<RowLiteral>& rows,
                           const std::vector<size_t>& which) {
  const Limits& L = options_.limits;
  const bool composite = t.keySize() > 1;
  const std::string head = "SELECT " + selectList(t, "") + " FROM " + quoteIdent(t.name) +
                           " WHERE " + t.keyValueExpr("") +
                           (composite ? " IN (SELECT * FROM (VALUES " : " IN (");
  const std::string tail = composite ? "))" : ")";
  const size_t maxKeys = std::max<size_t>(1, L.vdbeBudget() / (t.keySize() + 4) / 2);
  const auto stored = t.tupleOrder();
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

// Reads each large value in hex pieces (a piece per result row keeps every cell below the
// local statement limit) and puts the whole value in the row as one literal; the D1 half
// appends it in parts.
bool Engine::fetchBigValues(const Table& t, RowLiteral& row, const std::vector<size_t>& columns,
                            const std::vector<bool>& text) {
  const auto stored = t.tupleOrder();
  const size_t offset = t.keyKind == KeyKind::Rowid ? 1 : 0;
  const size_t piece = std::max<size_t>(1, options_.limits.localStatementBytes / 4);
  for (size_t n = 0; n < columns.size(); ++n) {
    const Column& col = t.columns[stored[columns[n] - offset]];
    std::string p = std::to_string(piece);
    std::string sql = "WITH RECURSIVE r(o) AS (VALUES(1) UNION ALL SELECT o+" + p +
                      " FROM r WHERE o+" + p + "<=length(CAST((SELECT " + quoteIdent(col.name) +
                      " FROM " + quoteIdent(t.name) + " WHERE " + t.keyValueExpr("") + "=" +
                      t.keyValue(row.key) + ") AS BLOB))) SELECT hex(substr(CAST(" +
                      quoteIdent(col.name) + " AS BLOB), r.o, " + p + ")) FROM " +
                      quoteIdent(t.name) + ", r WHERE " + t.keyValueExpr("") + "=" +
                      t.keyValue(row.key) + " ORDER BY r.o";
    auto r = local_.exec(sql);
    if (!r.ok) {
      recordError(ErrorCode::Internal, "reading a large value of " + t.name + ": " + r.error);
      return false;
    }
    std::string literal = "X'";
    for (size_t i = 0; i < r.rows.size(); ++i) literal += r.rows.at(i, 0);
    literal += '\'';
    row.values[columns[n]] = text[n] ? "CAST(" + literal + " AS TEXT)" : std::move(literal);
  }
  return true;
}

TableChanges Engine::tableChanges(const Table& t) const {
  TableChanges out;
  out.name = t.name;
  out.rowidKey = t.keyKind == KeyKind::Rowid;
  if (out.rowidKey) out.columns.push_back(t.d1RowidColumn);
  for (size_t i : t.tupleOrder()) out.columns.push_back(t.columns[i].name);
  out.keyWidth = t.keySize();
  return out;
}

// Adds a row read from the local table to its table's changes. A row D1 could not hold, or
// one the changeset refuses (which the local SQLite's rendering should never produce), is
// quarantined instead, and deleted from D1 when `deleteTooLong` (D1's copy is stale). Returns
// false when the quarantine could not be written (the error recorded).
bool Engine::addRow(const Table& t, TableChanges& out, RowLiteral& row, bool deleteTooLong) {
  const Limits& L = options_.limits;
  const std::string key = std::move(row.key);
  const size_t payload = row.payloadBytes;
  std::string problem;
  if (payload > L.maxRowBytes) {
    problem = "row of " + std::to_string(payload) + " bytes exceeds D1's " +
              std::to_string(L.maxRowBytes) + "-byte row limit";
  } else {
    auto st = out.addUpsert(tupleText(row));
    row = RowLiteral{};  // a page of large rows is held once, in the changeset
    if (st.ok()) return true;
    problem = "the row is not a tuple of literals d1sync can send: " + st.message;
  }
  const ErrorCode code = payload > L.maxRowBytes ? ErrorCode::D1Limit : ErrorCode::Internal;
  if (!quarantine(t.name, key, code, problem, now_)) return false;
  if (!deleteTooLong) return true;
  auto st = out.addDelete("(" + key + ")");
  if (!st.ok()) recordError(ErrorCode::Internal, "a key of " + t.name + ": " + st.message);
  return st.ok();
}

// Room for the rows in the changeset at once, so a page of large rows is not copied as the
// tuple list grows.
void Engine::reserveRows(TableChanges& out, const std::vector<RowLiteral>& rows) {
  size_t bytes = 0;
  for (const auto& row : rows) bytes += row.tupleBytes();
  out.upserts.reserve(rows.size(), bytes);
}

void Engine::planPage(Page& page) {
  page.shapes.clear();
  for (const auto& tc : page.changes.tables) {
    auto st = state_.tables.find(tc.name);
    const bool shadow = st != state_.tables.end() && st->second.shadow;
    page.shapes.push_back(shapeFor(tc, shadow ? shadowName(tc.name) : tc.name,
                                   options_.tenantColumn, options_.tenantLiteral));
    for (const auto& t : tables_)
      if (t.name == tc.name && t.rowidAlias && !options_.tenantColumn)
        page.shapes.back().setKey = false;
  }
  ChangesetHeader& h = page.changes.header;
  h.sourceId = state_.sourceId;
  h.incarnation = fenceId_.incarnation;
  h.epoch = state_.epoch;
  h.appliedSeq = h.fromSeq = state_.appliedSeq;
  h.lastBatch = state_.lastBatch;
  h.uptoSeq = std::max(page.uptoSeq, state_.appliedSeq);
  page.jobs = planner_.plan(page.changes, page.shapes);
}

}  // namespace d1sync
