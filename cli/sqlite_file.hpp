// The local database of the command line: a SQLite file opened for the engine, with the checks
// a person's file needs before anything is written to it or sent from it (it exists, it is a
// SQLite database, it is not corrupt) and a busy timeout for files other programs write.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "host.hpp"

namespace d1sync::cli {

enum class FileProblem { None, Missing, NotSqlite, Corrupt, Locked, Other };

struct FileError {
  FileProblem problem = FileProblem::None;
  std::string message;
  explicit operator bool() const { return problem != FileProblem::None; }
};

class SqliteFile final : public LocalDb {
 public:
  SqliteFile() = default;
  ~SqliteFile() override;
  SqliteFile(const SqliteFile&) = delete;
  SqliteFile& operator=(const SqliteFile&) = delete;

  // Opens an existing database file; `readOnly` never writes to it (nor creates a journal);
  // `create` makes the file when it does not exist (created() says whether it did).
  FileError open(const std::string& path, bool readOnly, int64_t busyTimeoutMs,
                 bool create = false);
  bool created() const { return created_; }
  // Closes the file and deletes it with its journal (a pull that failed leaves nothing).
  void closeAndRemove();
  // PRAGMA quick_check: a corrupt file is refused before anything is read from it.
  FileError check();
  // A write transaction (BEGIN IMMEDIATE: waits for another writer up to the busy timeout),
  // or a read transaction for a read-only file.
  FileError begin();
  FileError commit();
  void rollback();
  // One write transaction around everything until release(): begin() and commit() do nothing
  // meanwhile, and release() rolls it all back (--dry-run: the engine runs, the file keeps
  // nothing).
  FileError hold();
  void release();

  QueryResult exec(const std::string& sql) override;
  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }

 private:
  FileError fail(FileProblem p, const std::string& what, int rc);
  sqlite3* db_ = nullptr;
  std::string path_;
  bool readOnly_ = false;
  int64_t busyTimeoutMs_ = 0;
  bool held_ = false;
  bool created_ = false;
};

}  // namespace d1sync::cli
