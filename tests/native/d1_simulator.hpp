// A stand-in for D1 in native tests: a SQLite database opened with D1's limits (statement
// length, bound parameters, columns, value length, expression depth, compound SELECT and the
// VDBE-op cap), applying each batch all-or-nothing, answering with D1's error texts, and
// taking injected faults.
#pragma once

#include <sqlite3.h>

#include <deque>
#include <string>
#include <vector>

#include "host.hpp"

namespace d1sync::native {

struct Fault {
  enum Kind {
    FailBeforeCommit,  // nothing applied, D1 answers `message`
    LoseAnswer,        // the batch commits, the answer is lost: the host sees `message`
  } kind = FailBeforeCommit;
  std::string message = "Network connection lost.";
};

// D1's retry-worthy messages, as SPEC lists them.
const std::vector<std::string>& transientMessages();

class D1Simulator {
 public:
  explicit D1Simulator(const std::string& path = ":memory:");
  ~D1Simulator();
  D1Simulator(const D1Simulator&) = delete;
  D1Simulator& operator=(const D1Simulator&) = delete;

  D1Response batch(const std::vector<std::string>& statements);
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
