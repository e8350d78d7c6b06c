// The seam between the engine and whoever runs it. The engine never does I/O: it asks the host
// to run SQL on the local database (synchronously, a whole page per call) and hands the host
// whole batches of statements to apply on D1, whose outcome the host reports back later (the
// batch and its result are in target.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace d1sync {

// A page of query results, row-major. Every cell crosses as text (the engine's own queries
// render values as SQL literals inside SQLite, so nothing is lost to a host's number type);
// NULL is flagged separately from the empty string.
struct Rows {
  size_t columns = 0;
  std::vector<std::string> cells;
  std::vector<unsigned char> nulls;  // 1 where the cell is SQL NULL; same length as `cells`

  size_t size() const { return columns ? cells.size() / columns : 0; }
  const std::string& at(size_t row, size_t col) const { return cells[row * columns + col]; }
  bool isNull(size_t row, size_t col) const { return nulls[row * columns + col] != 0; }
  void add(std::string cell, bool isNull = false) {
    cells.push_back(std::move(cell));
    nulls.push_back(isNull ? 1 : 0);
  }
};

struct QueryResult {
  bool ok = true;
  std::string error;  // the local SQLite's message when !ok
  Rows rows;          // rows of the last statement in the SQL text
};

// The local database. `exec` may receive several statements separated by ';' and returns the
// rows of the last one. The host runs every engine call (Engine::next, Engine::complete, ...)
// inside one local transaction, so all reads and writes made during one call form a snapshot:
// a Durable Object wraps the call in transactionSync, sqlite-wasm in BEGIN/COMMIT.
class LocalDb {
 public:
  virtual ~LocalDb() = default;
  virtual QueryResult exec(const std::string& sql) = 0;
};

}  // namespace d1sync
