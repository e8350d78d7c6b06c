#include "sqlite_local.hpp"

#include <cstdio>
#include <cstdlib>

namespace d1sync::native {

QueryResult execAll(sqlite3* db, const std::string& sql) {
  QueryResult out;
  const char* tail = sql.c_str();
  const char* end = tail + sql.size();
  while (tail < end) {
    sqlite3_stmt* st = nullptr;
    const char* next = nullptr;
    int rc = sqlite3_prepare_v2(db, tail, static_cast<int>(end - tail), &st, &next);
    if (rc != SQLITE_OK) {
      out.ok = false;
      out.error = sqlite3_errmsg(db);
      return out;
    }
    tail = next;
    if (!st) continue;  // whitespace or a comment
    Rows rows;
    rows.columns = static_cast<size_t>(sqlite3_column_count(st));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      for (size_t c = 0; c < rows.columns; ++c) {
        int i = static_cast<int>(c);
        if (sqlite3_column_type(st, i) == SQLITE_NULL) {
          rows.add("", true);
        } else {
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
          rows.add(std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, i))));
        }
      }
    }
    if (rc != SQLITE_DONE) {
      out.ok = false;
      out.error = sqlite3_errmsg(db);
      sqlite3_finalize(st);
      return out;
    }
    sqlite3_finalize(st);
    out.rows = std::move(rows);
  }
  return out;
}

SqliteLocal::SqliteLocal(const std::string& path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    std::fprintf(stderr, "cannot open %s: %s\n", path.c_str(), sqlite3_errmsg(db_));
    std::abort();
  }
  // A Durable Object caps statements at 100 KB like D1 does; hold the engine to it here.
  sqlite3_limit(db_, SQLITE_LIMIT_SQL_LENGTH, 100000);
}

SqliteLocal::~SqliteLocal() {
  sqlite3_close(db_);
}

QueryResult SqliteLocal::exec(const std::string& sql) {
  ++calls_;
  return execAll(db_, sql);
}

void SqliteLocal::run(const std::string& sql) {
  auto r = execAll(db_, sql);
  if (!r.ok) {
    std::fprintf(stderr, "local SQL failed: %s\n  in: %.300s\n", r.error.c_str(), sql.c_str());
    std::abort();
  }
}

}  // namespace d1sync::native
