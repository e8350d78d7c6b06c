// Drives an Engine against a Target (the D1 simulator, or a wrapper around it) the way a JS
// host does: each engine call inside one local transaction, one batch at a time, waits
// skipped on a simulated clock.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "d1_simulator.hpp"
#include "engine.hpp"
#include "sqlite_local.hpp"
#include "target.hpp"

namespace d1sync::native {

class Driver {
 public:
  // The simulated clock starts at the wall clock, since the capture triggers stamp changes
  // with the local SQLite's own time.
  // `engineDb`, when given, is what the engine reads and writes through (a FaultyLocal over
  // `local`); the driver's own transactions always go to `local`.
  Driver(SqliteLocal& local, Target& target, Options options, LocalDb* engineDb = nullptr);

  // Runs until the engine is idle or failed. Stops after `maxRequests` D1 requests (a guard
  // against a livelock in a test, not a time limit); returns the last step.
  Step run(size_t maxRequests = 100000);
  // Sends at most `n` requests, then stops as a crash would: when `dropLastAnswer`, the last
  // request reaches D1 but its answer never reaches the engine.
  Step runRequests(size_t n, bool dropLastAnswer = false);
  // One engine.next() inside a local transaction, nothing sent.
  Step next() { return step(); }
  // Discards the engine (a crash or restart) and builds a new one over the same databases.
  void restart();
  Engine& engine() { return *engine_; }
  int64_t now() const { return now_; }
  void advance(int64_t ms) { now_ += ms; }
  size_t requests = 0;
  // Batches the engines driven so far prepared ahead, and sent as prepared.
  int64_t aheadPrepared() const { return aheadPrepared_ + engine_->lookAheadPrepared(); }
  int64_t aheadUsed() const { return aheadUsed_ + engine_->lookAheadUsed(); }
  // Called while each request is in flight, before and after the engine's lookAhead(): what
  // the application does meanwhile (a JS host's event loop runs it there).
  std::function<void(bool afterLookAhead)> inFlight;
  // With lookAhead 2, asked for each batch the engine sends ahead while the one before it has
  // not reached D1 yet: true makes the later batch arrive first (requests overtaking each
  // other on their way).
  std::function<bool()> overtakes;
  // Batches sent ahead (Engine::sendAhead) so far.
  size_t sentAhead = 0;

 private:
  struct Flight {
    Batch batch;
    bool arrived = false;
    BatchResult result;
  };
  Step step();
  // Sends `s` and, with lookAhead 2, what the engine sends ahead of its answer; completes the
  // answers in order. Stops sending after `budget` requests; `dropAnswers`: the requests
  // still in flight then reach D1 and their answers are lost, as in a crash.
  void fly(const Step& s, size_t& budget, bool dropAnswers);
  void arrive(Flight& f);
  SqliteLocal& local_;
  LocalDb& engineDb_;
  Target& target_;
  Options options_;
  std::unique_ptr<Engine> engine_;
  int64_t now_;
  int64_t aheadPrepared_ = 0, aheadUsed_ = 0;  // by engines restarted since
};

// Compares a local table with its D1 replica row for row: same keys, same storage class and
// bytes for every value (REALs compared as doubles). Returns a description of the first
// difference, or an empty string. `tenant` restricts the D1 side to one tenant's rows and
// drops the tenant column; `rowid` compares the rowid of tables keyed by it.
std::string diffTable(sqlite3* local, sqlite3* d1, const std::string& table,
                      const std::string& tenantWhere = "", const std::string& rowidColumn = "");

}  // namespace d1sync::native
