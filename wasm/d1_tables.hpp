// What a D1 table looks like, read from its CREATE TABLE text (sqlite_master.sql): the engine
// reconciles its local tables with it after a claim, and a sync endpoint checks the tables and
// columns a client's changeset names against it.
#pragma once

#include <string>
#include <vector>

namespace d1sync {

struct D1Table {
  std::vector<std::string> columns;
  std::vector<std::string> types;  // declared type per column, as written
  std::vector<std::string> key;    // primary key columns, in key order
};

// Columns and primary key of a D1 table, from its CREATE TABLE text.
D1Table parseD1Table(const std::string& createSql);
// Declared types compared token by token, so "VARCHAR(10)" matches "varchar ( 10 )".
bool sameType(const std::string& a, const std::string& b);
// Identifier lists equal but for ASCII case, as SQLite compares names.
bool sameNames(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace d1sync
