#include "sqlite_file.hpp"

#include <filesystem>

#include "sqlite_local.hpp"

namespace d1sync::cli {

SqliteFile::~SqliteFile() {
  if (db_) sqlite3_close(db_);
}

FileError SqliteFile::fail(FileProblem p, const std::string& what, int rc) {
  const int base = rc & 0xff;
  if (base == SQLITE_NOTADB) p = FileProblem::NotSqlite;
  if (base == SQLITE_CORRUPT) p = FileProblem::Corrupt;
  if (base == SQLITE_BUSY || base == SQLITE_LOCKED) p = FileProblem::Locked;
  std::string m = path_ + ": " + what;
  if (p == FileProblem::NotSqlite) m = path_ + " is not a SQLite database (" + what + ")";
  if (p == FileProblem::Corrupt) m = path_ + " is corrupt (" + what + ")";
  if (base == SQLITE_FULL || base == SQLITE_IOERR)
    m = path_ + ": cannot write (" + what + "): is the disk full, or a file size limit reached?";
  if (p == FileProblem::Locked)
    m = path_ + " is locked by another writer: waited " + std::to_string(busyTimeoutMs_) +
        " ms (--busy-timeout) (" + what + ")";
  return {p, m};
}

FileError SqliteFile::open(const std::string& path, bool readOnly, int64_t busyTimeoutMs,
                           bool create) {
  path_ = path;
  readOnly_ = readOnly;
  busyTimeoutMs_ = busyTimeoutMs;
  std::error_code ec;
  created_ = create && !std::filesystem::exists(path, ec);
  if (!create && !std::filesystem::exists(path, ec))
    return {FileProblem::Missing, path + ": no such file"};
  if (std::filesystem::is_directory(path, ec))
    return {FileProblem::NotSqlite, path + " is a directory, not a SQLite database"};
  const int flags =
      readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) return fail(FileProblem::Other, sqlite3_errmsg(db_), rc);
  sqlite3_busy_timeout(db_, static_cast<int>(busyTimeoutMs));
  sqlite3_extended_result_codes(db_, 1);
  // The first read of the schema is where SQLite notices a file that is not a database.
  rc = sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(FileProblem::Other, sqlite3_errmsg(db_), rc);
  return {};
}

FileError SqliteFile::check() {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &st, nullptr);
  if (rc != SQLITE_OK) return fail(FileProblem::Corrupt, sqlite3_errmsg(db_), rc);
  std::string first;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    if (first.empty() && t) first = t;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return fail(FileProblem::Corrupt, sqlite3_errmsg(db_), rc);
  if (first != "ok")
    return {FileProblem::Corrupt, path_ + " is corrupt (quick_check: " + first + ")"};
  return {};
}

void SqliteFile::closeAndRemove() {
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
  std::error_code ec;
  for (const char* suffix : {"", "-journal", "-wal", "-shm"})
    std::filesystem::remove(path_ + suffix, ec);
}

FileError SqliteFile::hold() {
  FileError e = begin();
  held_ = !e;
  return e;
}

void SqliteFile::release() {
  held_ = false;
  rollback();
}

FileError SqliteFile::begin() {
  if (held_) return {};
  const char* sql = readOnly_ ? "BEGIN" : "BEGIN IMMEDIATE";
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(FileProblem::Other, sqlite3_errmsg(db_), rc);
  return {};
}

FileError SqliteFile::commit() {
  if (held_) return {};
  int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    FileError e = fail(FileProblem::Other, sqlite3_errmsg(db_), rc);
    rollback();
    return e;
  }
  return {};
}

void SqliteFile::rollback() {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

QueryResult SqliteFile::exec(const std::string& sql) {
  return native::execAll(db_, sql);
}

}  // namespace d1sync::cli
