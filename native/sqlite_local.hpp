// LocalDb over a native SQLite connection: the local database in native tests, the demo and
// the command line (cli/sqlite_file.hpp opens files for it).
#pragma once

#include <sqlite3.h>

#include <string>

#include "host.hpp"

namespace d1sync::native {

class SqliteLocal : public LocalDb {
 public:
  // CONSTRUCTOR: opens `path` (":memory:" or a file). Aborts when SQLite cannot open it.
  explicit SqliteLocal(const std::string& path);
  ~SqliteLocal() override;
  SqliteLocal(const SqliteLocal&) = delete;
  SqliteLocal& operator=(const SqliteLocal&) = delete;

  QueryResult exec(const std::string& sql) override;
  // Runs SQL that must succeed (test setup); aborts with the message otherwise.
  void run(const std::string& sql);
  sqlite3* handle() { return db_; }
  size_t calls() const { return calls_; }

 private:
  sqlite3* db_ = nullptr;
  size_t calls_ = 0;
};

// Runs every statement in `sql` on `db`, returning the rows of the last one, all as text.
QueryResult execAll(sqlite3* db, const std::string& sql);

}  // namespace d1sync::native
