// The changeset: the one boundary between the source half of the engine (capture, outbox,
// coalescing, reading rows as they are now) and the D1 half (schema mapping, chunker, fence,
// statement rendering). It is data, never SQL: every value is a literal checked against the
// grammar below, so the D1 half may splice it into a statement, and a Worker may accept a
// changeset from a browser it does not trust.
//
// CHANGESET FORMAT (version 1)
//
//   A changeset is a byte string made of records. A record is one line: a tag, its fields each
//   preceded by one space (0x20), and one LF (0x0A). There is no other whitespace, no comment,
//   no optional spelling: a changeset has exactly one encoding, and encoding a decoded changeset
//   gives back its bytes. Records come in this order:
//
//     D1SYNC-CHANGESET 1                         magic and format version
//     H source=<name> incarnation=<name> epoch=<n> applied=<n> last=<name> from=<n> upto=<n>
//       batch=<name>                             (one line)
//     then for each table, each table at most once:
//       T <name> key=<n> (<name>,<name>,...)     or     T <name> rowid (<name>,<name>,...)
//       R <bound> <bound>                        zero or more range deletes, then
//       D <key tuple>                            zero or more key deletes, then
//       U <row tuple>                            zero or more upserts
//     END                                        nothing may follow it
//
//   <n>     A decimal integer, 0 <= n < 2^63, without leading zeros ("0", "17").
//   <name>  A double-quoted byte string: '"', the bytes with every '"' doubled, '"'. Any byte but
//           NUL; at least one byte and at most ChangesetLimits::maxNameBytes once unquoted. The
//           quoted form is quoteIdent(name) (sql_text.hpp).
//   H       The fence claims (see fence.hpp). source, incarnation, epoch: who sends. applied
//           and last: the applied_seq and last_batch the sender expects D1 to hold (last is the
//           one name that may be empty: ""), which the batch's guard checks. from (exclusive)
//           and upto (inclusive): the outbox sequence range the changeset covers, from <= upto
//           (equal for a page of the initial copy, which covers no outbox row). batch: the id
//           the batch's advance records as last_batch, with applied_seq = upto. A changeset built
//           by the engine has applied = from; the decoder checks only from <= upto and leaves a
//           mismatch for the receiver to answer (a gap).
//   T       A table: its name, its key, its column names in tuple order (1 to maxColumns, no two
//           equal byte for byte). key=<n>: the first n columns form the key, 1 <= n <= columns.
//           rowid: the table is keyed by its rowid, which every tuple carries as its first
//           column and as an INTEGER literal; the key is that one column.
//   R       Deletes the rows whose key k has low < k <= high. A bound is a key tuple or '*'
//           (unbounded). The initial copy sends one per page, so D1 rows in a copied key range
//           that the local table lacks are deleted.
//   D       Deletes the row with this key (a key tuple: the table's key width in literals).
//   U       Inserts the row, or replaces the row with its key (a row tuple: one literal per
//           column).
//   A table's records take effect in the order written, range deletes then deletes then upserts
//   (the decoder rejects any other order), so a key both deleted and upserted ends upserted.
//
//   For example (a table keyed by its first column, then one keyed by rowid):
//
//     D1SYNC-CHANGESET 1
//     H source="r1" incarnation="9f" epoch=3 applied=12 last="b6" from=12 upto=25 batch="b7"
//     T "tasks" key=1 ("id","title","score")
//     D (5)
//     U (1,'it''s',(3*pow(2,-1)))
//     T "log" rowid ("_rowid","msg")
//     U (7,CAST(X'6100' AS TEXT))
//     END
//
// TUPLES AND LITERALS
//
//   <tuple> := '(' literal (',' literal)* ')'
//   A literal is one SQLite value in one of the forms the local SQLite renders (render.hpp):
//
//     NULL                        NULL.
//     -?(0|[1-9][0-9]*)           INTEGER, -9223372036854775808 to 9223372036854775807. Beyond
//                                 that SQLite would read a REAL: rejected, as is "-0".
//     -?I.D+([eE][+-]?D+)?        REAL, as quote() prints it ("1.5", "1.0e+308", "-0.0"), with
//     -?I[eE][+-]?D+              I = 0|[1-9][0-9]*, D = [0-9]; at most 64 bytes. 9e999 and
//                                 -9e999 stand for the infinities. Its value is the correctly
//                                 rounded reading (strtod); some SQLite builds (D1's) do not
//                                 read every decimal that way, hence the exact form.
//     (m*pow(2,e))                REAL, exactly m * 2^e, or m * 2^e * 2^f, with m, e, f written
//     (m*pow(2,e)*pow(2,f))       as INTEGER literals, |m| < 2^55 and a double exactly (a
//                                 53-bit integer times 1, 2 or 4), -1022 <= e, f <= 1023.
//                                 m converts to a double exactly and each pow(2,k) is a normal
//                                 power of two, which every libm computes exactly, so SQLite's
//                                 value is each product rounded once as IEEE 754 does: what
//                                 ldexp() computes, with no decimal reading involved.
//     'text'                      TEXT: the bytes with every ' doubled; valid UTF-8 (no overlong
//                                 form, no surrogate, nothing above U+10FFFF) without NUL.
//     CAST(X'hex' AS TEXT)        TEXT: any bytes, NUL and invalid UTF-8 included.
//     X'hex'                      BLOB.
//
//   hex is an even number of [0-9A-Fa-f]. A value holds at most ChangesetLimits::maxValueBytes
//   bytes. Nothing else is a literal: no identifier, no operator beyond the exact REAL form, no
//   parenthesis beyond it, no space, no comment. NULL, '' and X'' are three different values.
//
// CANONICAL LITERALS (renderLiteral)
//
//   NULL; an INTEGER in decimal; TEXT as 'text' when it may be, else CAST(X'HEX' AS TEXT); BLOB
//   as X'HEX' (upper-case hex); a REAL as 0.0 / -0.0, 9e999 / -9e999, "<integer>.0" when it is a
//   whole number below 2^53 in magnitude (read exactly by any decimal reader), and otherwise the
//   exact form with m odd: (m*pow(2,e)), or (m*pow(2,e+200)*pow(2,-200)) when e < -1022. A NaN
//   renders as NULL, which is what SQLite stores for it.
//
// WHAT THE DECODER REJECTS
//
//   Anything outside the grammar above, and: a changeset cut short anywhere (before END), a
//   version other than 1, a record with an unknown tag, a body record before any T record,
//   records out of order within a table, a table named twice, a column named twice, a key width
//   out of range, a tuple whose width is not the table's column count (row) or key width (key,
//   bound), a rowid that is not an INTEGER literal, from > upto, a count beyond ChangesetLimits,
//   any byte after END. The answer names what was wrong and where: the byte offset, the record
//   number (the magic line is record 1) and the table.
//
// DECODED FORM
//
//   The decoder reads its input once, front to back (a name twice: memchr for its closing
//   quote, then for NUL), never outside it. A table's tuples are copied as they stand into two
//   TupleLists, one buffer each, so nothing is allocated per row or per value; parseLiteral()
//   and splitTuple() give typed values when a caller needs them. Names are bytes: one that is
//   not UTF-8 does not survive a JS string, so a receiver matches names byte for byte against
//   the schema it serves before it splices them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace d1sync {

constexpr int kChangesetVersion = 1;

struct ChangesetLimits {
  size_t maxTables = 1000;
  size_t maxColumns = 2000;  // SQLite's default SQLITE_MAX_COLUMN
  size_t maxNameBytes = 4096;
  size_t maxRecords = 50000000;       // R, D and U records in one changeset
  size_t maxValueBytes = 1000000000;  // SQLite's default SQLITE_MAX_LENGTH
};

enum class ChangesetError {
  Ok,
  Truncated,  // the input ends before END (inside a record, a literal or a name)
  Version,    // not a changeset of a version this decoder reads
  Syntax,     // a record or field outside the grammar, trailing bytes
  Literal,    // a value outside the literal grammar, integer overflow included
  Width,      // a tuple of the wrong width, a key width out of range
  Duplicate,  // a table or column named twice
  Order,      // a body record before any table, or out of order within its table
  Limit,      // a count or size beyond ChangesetLimits
};
const char* changesetErrorName(ChangesetError e);

// The outcome of every call below that checks input.
struct ChangesetStatus {
  ChangesetError error = ChangesetError::Ok;
  std::string message;  // what was wrong and where, printable ASCII
  size_t offset = 0;    // byte offset of the offending byte in the input
  size_t record = 0;    // 1-based record number; 0 outside a changeset
  std::string table;    // the table the record belongs to, empty outside one
  bool ok() const { return error == ChangesetError::Ok; }
};

// One SQLite value, decoded from a literal.
struct Value {
  enum class Type { Null, Integer, Real, Text, Blob };
  Type type = Type::Null;
  int64_t integer = 0;
  double real = 0;
  std::string bytes;  // Text and Blob

  static Value null() { return Value{}; }
  static Value ofInteger(int64_t v);
  static Value ofReal(double v);
  static Value ofText(std::string_view b);
  static Value ofBlob(std::string_view b);
  // Same type and same value; REALs compare bit for bit (so -0.0 != 0.0, NaN == same NaN).
  bool operator==(const Value& o) const;
};

// Checks one literal and decodes it into `out`. Offsets in the status are into `literal`.
ChangesetStatus parseLiteral(std::string_view literal, Value& out);
// The canonical literal of a value (see CANONICAL LITERALS).
std::string renderLiteral(const Value& v);

// Checks a tuple "(lit,...)" of exactly `width` literals; with `rowid`, the first is an
// INTEGER literal.
ChangesetStatus checkTuple(std::string_view tuple, size_t width, bool rowid = false);
// Checks a key as the outbox keeps it: comma-separated literals without parentheses ("1,'a'").
ChangesetStatus checkKeyList(std::string_view key, size_t width, bool rowid = false);
// The literals of a checked tuple (one that passed checkTuple), as views into it.
void splitTuple(std::string_view tuple, std::vector<std::string_view>& out);

// Tuples kept back to back as "(..),(..),(..)": one buffer for many rows, and any run of
// consecutive tuples is one view ready to follow VALUES. Only checked tuples enter.
class TupleList {
 public:
  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  std::string_view operator[](size_t i) const;
  // Tuples [first, first + count) joined by commas, as a view into the list.
  std::string_view run(size_t first, size_t count) const;
  size_t bytes() const { return text_.size(); }
  // The shape the tuples were checked against: literals per tuple, first one a rowid.
  size_t width() const { return width_; }
  bool rowid() const { return rowid_; }
  bool operator==(const TupleList& o) const { return text_ == o.text_ && ends_ == o.ends_; }
  // Room for `count` more tuples of `bytes` bytes in all, so a list of large rows grows once.
  void reserve(size_t count, size_t bytes);

 private:
  friend struct TableChanges;
  friend class ChangesetReader;
  void append(std::string_view checkedTuple, size_t width, bool rowid);
  std::string text_;
  std::vector<size_t> ends_;  // where tuple i ends; it begins after the comma ending i - 1
  size_t width_ = 0;          // the shape the tuples were checked against
  bool rowid_ = false;
};

struct RangeDelete {
  std::optional<std::string> low;   // key tuple, exclusive; none: unbounded
  std::optional<std::string> high;  // key tuple, inclusive; none: unbounded
  bool operator==(const RangeDelete& o) const = default;
};

struct TableChanges {
  std::string name;
  std::vector<std::string> columns;  // tuple order; with rowidKey, columns[0] holds the rowid
  bool rowidKey = false;
  size_t keyWidth = 1;  // leading columns forming the key; 1 with rowidKey

  std::vector<RangeDelete> rangeDeletes;
  TupleList deletes;  // key tuples
  TupleList upserts;  // row tuples

  // METHODS: check a tuple against this table's shape (set name, columns and key first), then
  // keep a copy of it. On failure nothing is kept and the status says why.
  ChangesetStatus addRangeDelete(std::optional<std::string_view> low,
                                 std::optional<std::string_view> high);
  ChangesetStatus addDelete(std::string_view keyTuple);
  ChangesetStatus addUpsert(std::string_view rowTuple);

  bool operator==(const TableChanges& o) const = default;
};

struct ChangesetHeader {
  std::string sourceId;
  std::string incarnation;
  int64_t epoch = 0;
  int64_t appliedSeq = 0;  // what the sender expects D1's applied_seq to be
  std::string lastBatch;   // what the sender expects D1's last_batch to be ("" for none)
  int64_t fromSeq = 0;     // outbox range covered: fromSeq < seq <= uptoSeq
  int64_t uptoSeq = 0;
  std::string batchId;
  bool operator==(const ChangesetHeader& o) const = default;
};

struct Changeset {
  ChangesetHeader header;
  std::vector<TableChanges> tables;
  bool operator==(const Changeset& o) const = default;
};

// Checks what adding the tuples did not (names, key width, the shape the tuples were checked
// against, range bounds, from <= upto, limits), then writes the encoding to `out` (replaced).
// On failure `out` is left empty. Whatever it writes, decodeChangeset accepts.
ChangesetStatus encodeChangeset(const Changeset& changeset, std::string& out,
                                const ChangesetLimits& limits = {});
// Strict decoder. On failure `out` is left empty and the status says what and where.
ChangesetStatus decodeChangeset(std::string_view bytes, Changeset& out,
                                const ChangesetLimits& limits = {});

}  // namespace d1sync
