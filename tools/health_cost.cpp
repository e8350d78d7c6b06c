// Times health(), metrics() and nextRunAt() with a large backlog in the outbox:
//   d1sync_health_cost [pending=1000000] [calls=20]
// Prints the median and the slowest call of each, in milliseconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "driver.hpp"

using namespace d1sync;
using namespace d1sync::native;

namespace {

void timeIt(const char* name, int calls, const std::function<void()>& fn) {
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%-14s median %.4f ms, slowest %.4f ms (%d calls)\n", name, ms[ms.size() / 2],
              ms.back(), calls);
}

}  // namespace

int main(int argc, char** argv) {
  long pending = argc > 1 ? std::atol(argv[1]) : 1000000;
  int calls = argc > 2 ? std::atoi(argv[2]) : 20;
  SqliteLocal local(":memory:");
  D1Simulator d1;
  local.run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  Options o;
  o.sourceId = "cost";
  o.seed = 1;
  Driver driver(local, d1, o);
  Step s = driver.run();
  if (s.kind != Step::Idle) {
    std::fprintf(stderr, "did not start: %s\n", s.message.c_str());
    return 1;
  }
  local.run("BEGIN; WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<" +
            std::to_string(pending) + ") INSERT INTO t SELECT i, 'v' || i FROM n; COMMIT");
  std::string h = driver.engine().healthJson(driver.now());
  std::printf("pending changes: %ld\nhealth: %.160s...\n", pending, h.c_str());
  timeIt("health()", calls, [&] { driver.engine().healthJson(driver.now()); });
  timeIt("metrics()", calls, [&] { driver.engine().metricsText(driver.now()); });
  // What the JS nextRetryAt() calls; before the drive policy moved into the engine, it
  // parsed a whole health() answer whenever no backoff was pending.
  timeIt("nextRunAt()", calls, [&] { driver.engine().nextRunAt(driver.now()); });
  return 0;
}
