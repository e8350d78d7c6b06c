// D1's side of the schema. In `replica` mode a D1 table keeps the columns (types, NOT NULL,
// DEFAULT, COLLATE, generated expressions), the primary key and every index, UNIQUE ones made
// non-unique, and drops FOREIGN KEY, CHECK and UNIQUE constraints: the source enforced them
// already, and replaying coalesced changes through them would refuse valid histories.
// `strict` keeps them. With a tenant, the tenant column leads the primary key and every index.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "schema.hpp"

namespace d1sync {

enum class SchemaMode { Replica, Strict };

struct TenantSpec {
  std::string column;
  std::string literal;  // the tenant value as an SQL literal
  std::string type;     // TEXT or INTEGER
};

struct D1Shape {
  SchemaMode mode = SchemaMode::Replica;
  std::optional<TenantSpec> tenant;
};

// Column definition as D1 gets it (also used by ALTER TABLE ADD COLUMN).
std::string columnDefinition(const Column& c, const D1Shape& shape);
std::string createTableDdl(const Table& t, const std::string& d1Name, const D1Shape& shape);
std::vector<std::string> createIndexDdl(const Table& t, const std::string& d1Name,
                                        const D1Shape& shape);
std::vector<std::string> dropIndexDdl(const Table& t);
// D1 column names in the order upserts list them: tenant, rowid column, stored columns.
std::vector<std::string> d1Columns(const Table& t, const D1Shape& shape);

// Why the table cannot be replicated with this shape, or empty.
std::string shapeProblem(const Table& t, const D1Shape& shape, int maxColumns);

}  // namespace d1sync
