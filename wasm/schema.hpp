// The local schema as the engine needs it: what each replicated table looks like (from
// PRAGMA table_xinfo / index_list / index_xinfo / foreign_key_list, plus what only the CREATE
// text says: COLLATE, generated expressions, CHECK and REFERENCES clauses) and which key
// identifies a row.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "host.hpp"

namespace d1sync {

struct Column {
  std::string name;
  std::string type;  // declared type, verbatim
  bool notNull = false;
  std::optional<std::string> defaultSql;  // PRAGMA dflt_value (outer parentheses stripped)
  int pk = 0;                             // 1-based position in the declared primary key
  int hidden = 0;         // PRAGMA table_xinfo: 2 = VIRTUAL generated, 3 = STORED generated
  std::string collate;    // declared COLLATE name, empty when none
  std::string generated;  // the generated expression, without the outer parentheses
  std::vector<std::string> checks;  // column CHECK clauses, verbatim ("CHECK (x > 0)")
  std::string references;           // column REFERENCES clause, verbatim
  bool isGenerated() const { return hidden == 2 || hidden == 3; }
};

struct IndexColumn {
  std::string name;  // empty for an expression
  std::string collate;
  bool desc = false;
};

struct Index {
  std::string name;
  std::string sql;  // CREATE INDEX text; empty for constraint autoindexes
  bool unique = false;
  std::string origin;  // "c" CREATE INDEX, "u" UNIQUE constraint, "pk" PRIMARY KEY
  bool partial = false;
  std::vector<IndexColumn> columns;
  bool hasExpression() const;
};

enum class KeyKind {
  Declared,  // the declared primary key identifies the row (WITHOUT ROWID, INTEGER PRIMARY KEY,
             // or a NOT NULL composite key)
  Rowid,     // no usable declared key: the rowid, sent to D1 as an explicit column
};

struct Table {
  std::string name;
  std::string sql;  // sqlite_master.sql
  bool withoutRowid = false;
  bool strict = false;
  std::vector<Column> columns;
  std::vector<Index> indexes;
  std::vector<std::string> tableChecks;       // table-level CHECK constraints, verbatim
  std::vector<std::string> tableForeignKeys;  // table-level FOREIGN KEY constraints, verbatim
  std::vector<std::string> parents;           // tables this one references

  KeyKind keyKind = KeyKind::Declared;
  std::vector<size_t> key;    // indexes into `columns`, in key order (Declared)
  bool rowidAlias = false;    // the key is an INTEGER PRIMARY KEY, the rowid under a column
                              // name: it holds integers only (Declared)
  std::string rowidName;      // how to say rowid locally (rowid, _rowid_ or oid) (Rowid)
  std::string d1RowidColumn;  // the explicit D1 column holding the rowid (Rowid)

  // Columns whose values are sent (generated ones are recomputed by D1).
  std::vector<size_t> storedColumns() const;
  size_t keySize() const { return keyKind == KeyKind::Rowid ? 1 : key.size(); }
  // Local SQL expressions for each key part, on a row reachable as `alias` (e.g. NEW, "t").
  std::vector<std::string> keyExprs(const std::string& alias) const;
  // The key as one SQL value to compare: "k" or ("k1","k2") (keyExprs joined).
  std::string keyValueExpr(const std::string& alias) const;
  // A key given as comma-separated literals, as a value to compare with keyValueExpr.
  std::string keyValue(const std::string& literals) const;
  // Stored columns in the order a row tuple carries them: the declared key first (a rowid key
  // is not among them: it leads the tuple on its own).
  std::vector<size_t> tupleOrder() const;
  // D1 column names for each key part.
  std::vector<std::string> keyColumnNames() const;
  const Column* column(const std::string& name) const;
};

// The objects in sqlite_master, as read in one query.
struct MasterEntry {
  std::string type, name, tblName, sql;
};

std::vector<MasterEntry> parseMaster(const Rows& rows);
const char* masterQuery();

// Why a table is not replicated, or empty when it is.
std::string skipReason(const MasterEntry& e, const std::vector<MasterEntry>& all);

// Reads one table's definition. Returns an empty optional and sets `error` when the local
// database refuses one of the PRAGMAs.
std::optional<Table> readTable(LocalDb& db, const MasterEntry& entry,
                               const std::vector<MasterEntry>& all, std::string& error);

// Fills what only the CREATE TABLE text says (exposed for tests).
void parseCreateTable(const std::string& sql, Table& table);

}  // namespace d1sync
