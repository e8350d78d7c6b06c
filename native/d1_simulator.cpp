#include "d1_simulator.hpp"

#include <cstdio>
#include <cstdlib>

#include "sqlite_local.hpp"

namespace d1sync::native {

const std::vector<std::string>& transientMessages() {
  static const std::vector<std::string> kMessages = {
      "Network connection lost.",
      "D1 DB is overloaded. Too many requests queued.",
      "D1 DB reset because its code was updated.",
      "Internal error in D1 DB storage caused object to be reset.",
      "Cannot resolve D1 DB due to transient issue on remote node.",
      "D1 DB storage operation exceeded timeout which caused object to be reset.",
  };
  return kMessages;
}

namespace {

const char* codeText(int rc) {
  switch (rc & 0xff) {
    case SQLITE_TOOBIG:
      return "SQLITE_TOOBIG";
    case SQLITE_NOMEM:
      return "SQLITE_NOMEM";
    case SQLITE_CONSTRAINT:
      return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH:
      return "SQLITE_MISMATCH";
    case SQLITE_RANGE:
      return "SQLITE_RANGE";
    default:
      return "SQLITE_ERROR";
  }
}

std::string d1Error(sqlite3* db, int rc) {
  return std::string("D1_ERROR: ") + sqlite3_errmsg(db) + ": " + codeText(rc);
}

}  // namespace

D1Simulator::D1Simulator(const std::string& path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) std::abort();
  sqlite3_limit(db_, SQLITE_LIMIT_SQL_LENGTH, 100000);
  sqlite3_limit(db_, SQLITE_LIMIT_VARIABLE_NUMBER, 100);
  sqlite3_limit(db_, SQLITE_LIMIT_COLUMN, 100);
  sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, 2200000);  // local D1 accepts records to ~2.2 MB
  sqlite3_limit(db_, SQLITE_LIMIT_EXPR_DEPTH, 100);
  sqlite3_limit(db_, SQLITE_LIMIT_COMPOUND_SELECT, 5);
  sqlite3_limit(db_, SQLITE_LIMIT_VDBE_OP, 25000);
  execAll(db_, "PRAGMA foreign_keys = ON");  // D1 enforces foreign keys
}

D1Simulator::~D1Simulator() {
  sqlite3_close(db_);
}

QueryResult D1Simulator::query(const std::string& sql) {
  return execAll(db_, sql);
}

BatchResult D1Simulator::apply(const Batch& batch) {
  const auto& stmts = batch.statements;
  ++batches;
  statements += stmts.size();
  // D1 answers with text; being D1-like, the simulator classifies it where it is produced.
  auto failed = [&](std::string message, int64_t statement) {
    D1Failure kind = classifyD1Error(message);
    return BatchResult::failed(batch.id, kind, std::move(message), statement);
  };
  Fault fault;
  bool faulty = !faults_.empty();
  if (faulty) {
    fault = faults_.front();
    faults_.pop_front();
    if (fault.kind == Fault::FailBeforeCommit &&
        (fault.statement < 0 || fault.statement >= static_cast<int64_t>(stmts.size())))
      return failed(fault.message, -1);
  }
  std::vector<Rows> results;
  int64_t rowsRead = 0;
  const sqlite3_int64 changesBefore = sqlite3_total_changes64(db_);
  execAll(db_, "BEGIN");
  for (size_t i = 0; i < stmts.size(); ++i) {
    const std::string& sql = stmts[i];
    if (faulty && fault.kind == Fault::FailBeforeCommit &&
        fault.statement == static_cast<int64_t>(i)) {
      execAll(db_, "ROLLBACK");
      return failed(fault.message, fault.statement);
    }
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr);
    if (rc == SQLITE_OK && !st) {
      results.emplace_back();
      continue;
    }
    Rows rows;
    if (rc == SQLITE_OK) {
      rows.columns = static_cast<size_t>(sqlite3_column_count(st));
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t c = 0; c < rows.columns; ++c) {
          int col = static_cast<int>(c);
          if (sqlite3_column_type(st, col) == SQLITE_NULL) {
            rows.add("", true);
          } else {
            const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
            rows.add(std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, col))));
          }
        }
      }
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
      std::string message = d1Error(db_, rc);
      sqlite3_finalize(st);
      execAll(db_, "ROLLBACK");
      return failed(std::move(message), static_cast<int64_t>(i));
    }
    sqlite3_finalize(st);
    rowsRead += static_cast<int64_t>(rows.size());
    results.push_back(std::move(rows));
  }
  auto commit = execAll(db_, "COMMIT");
  if (!commit.ok) {
    // A deferred foreign key failing at commit resets the Durable Object behind D1.
    std::string msg =
        "Durable Object was reset and rolled back to its last known good state because the "
        "following SQLite statement failed: " +
        commit.error;
    execAll(db_, "ROLLBACK");
    return failed(std::move(msg), -1);
  }
  ++committed;
  if (faulty && fault.kind == Fault::LoseAnswer) return failed(fault.message, -1);
  const int64_t rowsWritten = static_cast<int64_t>(sqlite3_total_changes64(db_) - changesBefore);
  return BatchResult::succeeded(batch.id, std::move(results), rowsRead, rowsWritten);
}

}  // namespace d1sync::native
