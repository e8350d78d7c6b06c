// Hydrate's long values: a value over the inline size (Limits::inlineValueBytes) comes in a
// page as a marker (render.hpp); the page is held while the value is read from D1 in hex
// pieces, then written: the row with the value empty, then the pieces appended, each local
// statement within the local database's statement cap (100 KB in a Durable Object). The
// value is emptied before the first append, so a page written again after a restart (its
// progress was not saved) ends with the same bytes.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine.hpp"
#include "render.hpp"
#include "sql_text.hpp"
#include "sync_protocol.hpp"

namespace d1sync {
namespace {

constexpr size_t kPieceBytes = 400000;  // one statement's piece (800 KB of hex back)
constexpr size_t kPiecesBytesPerBatch = 2000000;
constexpr size_t kPiecesPerBatch = 40;

}  // namespace

bool Engine::holdForBigValues(const Rows& rows) {
  std::vector<HydrateBig> big;
  for (size_t row = 0; row < rows.size(); ++row)
    for (size_t c = 0; c < rows.columns; ++c)
      if (auto m = rows.isNull(row, c) ? std::nullopt : parseBigMarker(rows.at(row, c)))
        big.push_back(HydrateBig{row, c, m->text, m->bytes, {}});
  if (big.empty()) return false;
  hydrateHeld_ = rows;
  hydrateBig_ = std::move(big);
  return true;
}

// The row's key as a condition: D1's columns (and tenant) or the local ones.
std::string Engine::hydrateKeyWhere(const Table& t, const Rows& rows, size_t row, bool d1) const {
  std::vector<std::string> names;
  if (d1) {
    for (const auto& k : t.keyColumnNames()) names.push_back(quoteIdent(k));
  } else {
    names = t.keyExprs("");
  }
  std::string cols, lits;
  for (size_t i = 0; i < names.size(); ++i) {
    cols += (i ? "," : "") + names[i];
    lits += (i ? "," : "") + rows.at(row, i);
  }
  std::string where = names.size() == 1 ? cols + "=" + lits : "(" + cols + ")=(" + lits + ")";
  if (d1 && shape_.tenant)
    where = quoteIdent(shape_.tenant->column) + "=" + shape_.tenant->literal + " AND " + where;
  return where;
}

std::optional<Step> Engine::hydratePieceStep(const Table& t) {
  std::vector<std::string> d1Names;
  if (t.keyKind == KeyKind::Rowid) d1Names.push_back(t.d1RowidColumn);
  for (size_t i : t.tupleOrder()) d1Names.push_back(t.columns[i].name);
  std::vector<std::string> statements, reads;
  hydratePieces_.clear();
  size_t bytes = 0;
  for (size_t b = 0; b < hydrateBig_.size(); ++b) {
    const HydrateBig& v = hydrateBig_[b];
    // Pieces in order: a value has at most one piece in flight past what was read.
    for (size_t have = v.hex.size() / 2; have < v.bytes;) {
      if (statements.size() >= kPiecesPerBatch || bytes >= kPiecesBytesPerBatch) break;
      const size_t n = std::min(kPieceBytes, v.bytes - have);
      const std::string column = d1Names.at(v.column);
      std::vector<std::string> key;
      for (size_t i = 0; i < t.keySize(); ++i) key.push_back(hydrateHeld_->at(v.row, i));
      std::string joinedKey;
      for (const auto& k : key) joinedKey += (joinedKey.empty() ? "" : ",") + k;
      statements.push_back("SELECT hex(substr(CAST(" + quoteIdent(column) + " AS BLOB)," +
                           std::to_string(have + 1) + "," + std::to_string(n) + ")) FROM " +
                           quoteIdent(t.name) + " WHERE " +
                           hydrateKeyWhere(t, *hydrateHeld_, v.row, true));
      reads.push_back(nlohmann::json{
          {"kind", "piece"},
          {"table", t.name},
          {"columns", {column}},
          {"key", joinedKey},
          {"offset", have},
          {"length", n}}.dump());
      hydratePieces_.push_back(b);
      bytes += n;
      have += n;
    }
  }
  if (statements.empty()) return std::nullopt;
  if (options_.remote)
    return sendRemote(Flight::Hydrate, sync_protocol::kRead,
                      readRequest(state_.sourceId, fenceId_.incarnation, reads));
  return send(Flight::Hydrate, std::move(statements));
}

void Engine::onHydratePieces(const BatchResult& r) {
  std::vector<size_t> pieces = std::move(hydratePieces_);
  hydratePieces_.clear();
  if (r.results.size() != pieces.size()) {
    recordError(ErrorCode::Internal, "hydrate: D1 answered " + std::to_string(r.results.size()) +
                                         " pieces for " + std::to_string(pieces.size()));
    return;
  }
  for (size_t i = 0; i < pieces.size(); ++i) {
    HydrateBig& v = hydrateBig_[pieces[i]];
    const Rows& got = r.results[i];
    const std::string hex = got.size() == 1 && !got.isNull(0, 0) ? got.at(0, 0) : "";
    const bool isHex = std::all_of(hex.begin(), hex.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
    });
    // The row changed or vanished in D1 since the page was read (another writer is fenced by
    // now, so this is D1 itself): the page is read again.
    if (hex.empty() || !isHex || hex.size() % 2 || v.hex.size() / 2 + hex.size() / 2 > v.bytes) {
      recordError(ErrorCode::Internal,
                  "hydrate: a long value of " + state_.hydrate.tables.front() +
                      " did not come back as the page said: the page is read again");
      hydrateHeld_.reset();
      hydrateBig_.clear();
      return;
    }
    v.hex += hex;
  }
}

bool Engine::writeBigValues(const Table& t, const Rows& rows,
                            const std::vector<std::string>& cols) {
  const size_t chunk = std::max<size_t>(1000, (options_.limits.localStatementBytes - 2000) / 2);
  for (const HydrateBig& v : hydrateBig_) {
    if (v.hex.size() != 2 * v.bytes) {
      fail(ErrorCode::Internal, "hydrate: a long value of " + t.name + " is incomplete");
      return false;
    }
    const std::string where = " WHERE " + hydrateKeyWhere(t, rows, v.row, false);
    const std::string& col = cols.at(v.column);
    std::string sql = "UPDATE " + quoteIdent(t.name) + " SET " + col + "=" +
                      (v.text ? "''" : "X''") + where + ";";
    for (size_t at = 0; at < v.hex.size(); at += 2 * chunk) {
      const std::string piece = "X'" + v.hex.substr(at, 2 * chunk) + "'";
      sql += "UPDATE " + quoteIdent(t.name) + " SET " + col + "=" +
             (v.text ? col + "||CAST(" + piece + " AS TEXT)"
                     : "CAST(" + col + "||" + piece + " AS BLOB)") +
             where + ";";
      if (sql.size() > options_.limits.localStatementBytes / 2) {
        auto w = local_.exec(sql);
        if (localFailed("hydrate: writing a long value of " + t.name, w)) return false;
        sql.clear();
      }
    }
    if (!sql.empty()) {
      auto w = local_.exec(sql);
      if (localFailed("hydrate: writing a long value of " + t.name, w)) return false;
    }
  }
  return true;
}

}  // namespace d1sync
