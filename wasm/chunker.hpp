// Packs rows into multi-row D1 statements as large as the limit profile allows, counting the
// exact bytes of each statement and an upper estimate of the VDBE program SQLite builds for it
// (rows x (columns + 1) plus a per-statement overhead for a multi-row upsert).
//
// Statement forms (tenant parts only when a tenant is set):
//   INSERT INTO "t" ("c1",...) VALUES (...),(...) ON CONFLICT ("k") DO UPDATE SET
//   "c1"=excluded."c1",... INSERT INTO "t" ("tenant","c1",...) SELECT <tenant>,* FROM (VALUES
//   (...),(...)) WHERE true ON CONFLICT ... DELETE FROM "t" WHERE "tenant"=<tenant> AND "k" IN
//   (1,2,...) DELETE FROM "t" WHERE ("k1","k2") IN (SELECT * FROM (VALUES (1,'a'),(2,'b'))) DELETE
//   FROM "t" WHERE ("k1","k2") > (<low>) AND ("k1","k2") <= (<high>)       -- copy ranges UPDATE
//   "t" SET "c"=CAST("c"||X'..' AS BLOB) WHERE ("k1","k2")=(<key>)        -- value parts UPDATE "t"
//   SET "c"="c"||CAST(X'..' AS TEXT) WHERE ...
// Every key column is also set on conflict, so a key that changed only under its collation
// (NOCASE 'a' -> 'A') is renamed in D1 too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "limits.hpp"

namespace d1sync {

// A value too long to sit in a statement: inserted as '' / X'' and appended in pieces.
struct ValuePart {
  size_t column = 0;  // index into RowLiteral::values
  bool text = false;
  std::string hex;  // the whole value, hex encoded
};

// A row to upsert, either packed (`tuple` holds "(lit,...)" as the local SQLite rendered it)
// or as one literal per value. Only the second form can have parts.
struct RowLiteral {
  std::string key;                  // the key as comma-separated literals
  std::string tuple;                // packed form; empty when `values` holds the row
  std::vector<std::string> values;  // one literal per TargetShape::columns entry
  std::vector<ValuePart> parts;
  size_t payloadBytes = 0;  // stored size of the row, for D1's row-size limit
  size_t tupleBytes() const;
  size_t bytes() const;  // the tuple and the parts: what the row adds to a batch
  // Moves a packed row into `values`.
  void unpack();
};

struct TargetShape {
  std::string table;                    // D1 table name
  std::vector<std::string> columns;     // D1 columns the values fill (tenant excluded)
  std::vector<std::string> keyColumns;  // D1 key columns (tenant excluded)
  std::optional<std::string> tenantColumn;
  std::string tenantLiteral;
  // The upsert's DO UPDATE sets the key columns too: a conflict under a NOCASE key, or
  // between 0.0 and -0.0, is no proof of equal bytes. False where it is (an INTEGER PRIMARY
  // KEY), which spares D1 moving the row to the rowid it already has.
  bool setKey = true;
};

class Chunker {
 public:
  explicit Chunker(const Limits& limits) : limits_(limits) {}

  // Moves values into parts, largest first, until the row fits in one statement, or in
  // `maxTupleBytes` when given (0 moves every value that can be moved).
  void fitRow(const TargetShape& shape, RowLiteral& row, size_t maxTupleBytes = SIZE_MAX) const;
  // Multi-row upserts of rows without parts, at most maxRows rows per statement.
  std::vector<std::string> upserts(const TargetShape& shape,
                                   const std::vector<const RowLiteral*>& rows,
                                   size_t maxRows) const;
  // The same for row tuples "(lit,...)" as they stand.
  std::vector<std::string> upserts(const TargetShape& shape,
                                   const std::vector<std::string_view>& tuples,
                                   size_t maxRows) const;
  // The single-row upsert and the UPDATEs that append its parts.
  std::vector<std::string> upsertWithParts(const TargetShape& shape, const RowLiteral& row) const;
  // Keys as comma-separated literals ("1,'a'"), the form the outbox keeps.
  std::vector<std::string> deletes(const TargetShape& shape, const std::vector<std::string>& keys,
                                   size_t maxRows) const;
  std::vector<std::string> deletes(const TargetShape& shape,
                                   const std::vector<std::string_view>& keys, size_t maxRows) const;
  // Deletes D1 rows with low < key <= high (a missing bound is unbounded); bounds as keys.
  std::string rangeDelete(const TargetShape& shape, const std::string* low,
                          const std::string* high) const;
  std::string rangeDelete(const TargetShape& shape, std::optional<std::string_view> low,
                          std::optional<std::string_view> high) const;

  // Tuple bytes a row may have and still fit alone in one upsert.
  size_t rowRoom(const TargetShape& shape) const;
  size_t maxUpsertRows(const TargetShape& shape) const;
  size_t maxDeleteRows(const TargetShape& shape) const;

 private:
  std::string upsertPrefix(const TargetShape& shape) const;
  std::string upsertSuffix(const TargetShape& shape) const;
  std::string keyWhere(const TargetShape& shape, const std::string& key) const;
  bool isKeyColumn(const TargetShape& shape, size_t value) const;
  const Limits& limits_;
};

// Hex of the bytes an exact literal stands for ('text', X'..', CAST(X'..' AS TEXT)).
std::string literalToHex(const std::string& literal);

}  // namespace d1sync
