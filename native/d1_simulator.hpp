// A stand-in for D1 in native tests and the command line's --dry-run: a SQLite database opened with
// D1's limits (statement length, bound parameters, columns, value length, expression depth,
// compound SELECT and the VDBE-op cap), applying each batch all-or-nothing, answering with D1's
// error texts, and taking injected faults. It is a Target (wasm/target.hpp): being D1-like, it
// fails with text, which it classifies itself (classifyD1Error) into the result's failure class;
// the failure names the statement that failed (-1 when the whole batch failed: a fault injected for
// the whole batch, a lost answer, a deferred foreign key failing at COMMIT). A committed batch
// reports as rows written the rows its statements inserted, updated or deleted
// (sqlite3_total_changes over the batch, rows changed by triggers and ON CONFLICT included)
// and as rows read the rows its statements returned; D1 counts the rows it scans instead, so
// only the written figure is comparable with D1's.
#pragma once

#include <sqlite3.h>

#include <deque>
#include <string>
#include <vector>

#include "host.hpp"
#include "target.hpp"

namespace d1sync::native {

struct Fault {
  enum Kind {
    FailBeforeCommit,  // nothing applied, D1 answers `message`
    LoseAnswer,        // the batch commits, the answer is lost: the host sees `message`
  } kind = FailBeforeCommit;
  std::string message = "Network connection lost.";
  // FailBeforeCommit: the statement the failure is reported at (the statements before it run,
  // then the batch rolls back); -1: the whole batch fails before any statement runs.
  int64_t statement = -1;
};

// D1's retry-worthy messages, as SPEC lists them.
const std::vector<std::string>& transientMessages();

class D1Simulator final : public Target {
 public:
  explicit D1Simulator(const std::string& path = ":memory:");
  ~D1Simulator();
  D1Simulator(const D1Simulator&) = delete;
  D1Simulator& operator=(const D1Simulator&) = delete;

  BatchResult apply(const Batch& batch) override;
  // apply() of a batch with id 0, for tests that send statements by hand.
  BatchResult batch(const std::vector<std::string>& statements) {
    Batch b;
    b.statements = statements;
    return apply(b);
  }
  // Faults apply to the next batches, one each, in order.
  void inject(Fault f) { faults_.push_back(std::move(f)); }
  size_t pendingFaults() const { return faults_.size(); }
  QueryResult query(const std::string& sql);
  sqlite3* handle() { return db_; }

  size_t batches = 0;     // batches received, faulty ones included
  size_t statements = 0;  // statements received
  size_t committed = 0;   // batches committed

 private:
  sqlite3* db_ = nullptr;
  std::deque<Fault> faults_;
};

}  // namespace d1sync::native
