// A seeded, deterministic fault harness: a random workload on a local database interleaved
// with random D1 faults, failing local calls, engine crashes and a second writer claiming the
// same sourceId; at the end D1 must equal the local database exactly and hold the last
// captured sequence.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace d1sync::native {

struct HarnessResult {
  bool ok = true;
  std::string failure;                    // first problem found, with the seed's context
  std::map<std::string, int64_t> faults;  // injected, by kind
  int64_t rowsCompared = 0;
  int64_t lost = 0;        // local rows missing in D1
  int64_t duplicated = 0;  // D1 rows beyond the local ones
  int64_t quarantined = 0;
  int64_t aheadPrepared = 0, aheadUsed = 0;  // batches read ahead, and sent as read
  int64_t sentAhead = 0, overtook = 0;       // sent before the answer before; arrived first
};

struct SeedOptions {
  int rounds = 40;
  // false: D1's faults only (as before local faults existed).
  bool localFaults = true;
  // Through a SyncEndpoint (remote mode, a tenant partition) instead of straight into D1; D1's
  // tables are then the application's, so the schema stays put.
  bool endpoint = false;
  // Options::lookAhead. With 2, a batch sent ahead now and then reaches D1 before the one
  // sent before it (its guard must refuse it, and the engine send it again).
  int lookAhead = 2;
  // The application writes (and now and then changes its schema) while requests are in
  // flight, before and after the engine prepares the next batch.
  bool writesInFlight = false;
};

HarnessResult runSeed(uint64_t seed, const SeedOptions& o);
inline HarnessResult runSeed(uint64_t seed, int rounds = 40, bool localFaults = true,
                             bool endpoint = false) {
  return runSeed(seed, SeedOptions{rounds, localFaults, endpoint});
}

}  // namespace d1sync::native
