// The local CREATE TABLE a hydrate writes for a D1 table: D1's own definition (sqlite_master.sql)
// without what belongs to D1's side of the replica — the tenant column that partitions a shared
// table (and every constraint naming it, its place in the primary key kept out), and the
// explicit rowid column the engine adds for a table keyed by rowid (rowid, or _d1sync_rowid
// when the table has a column called rowid): such a table becomes a rowid table again, its
// rowids restored by the rows' first value.
#pragma once

#include <optional>
#include <string>

namespace d1sync {

struct LocalDdl {
  std::string sql;          // CREATE TABLE IF NOT EXISTS "name" (...) [WITHOUT ROWID] [STRICT]
  std::string rowidColumn;  // the D1 column that held the rowid; empty: keyed by columns
  std::string error;        // why the D1 definition cannot be mapped; `sql` empty then
};

LocalDdl localDdlFromD1(const std::string& d1CreateSql, const std::string& name,
                        const std::optional<std::string>& tenantColumn);

}  // namespace d1sync
