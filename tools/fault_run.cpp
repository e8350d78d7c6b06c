// Runs the fault harness over a range of seeds and prints one line:
//   d1sync_faults [count=1000] [first=1] [--d1-only] [--endpoint] [--writes-in-flight]
//                 [--no-look-ahead] [--look-ahead-1]
// --d1-only leaves the local database alone (D1's faults, crashes and writers only).
// --endpoint replicates through the sync endpoint (a tenant partition) instead of straight
// into D1. --writes-in-flight: the application writes while requests are in flight, before
// and after the engine reads ahead. --no-look-ahead: lookAhead 0; --look-ahead-1: lookAhead 1 (the
// default is 2: a batch sent before the answer to the one before, now and then overtaking it).
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "fault_harness.hpp"

int main(int argc, char** argv) {
  d1sync::native::SeedOptions o;
  for (; argc > 1 && std::string(argv[argc - 1]).rfind("--", 0) == 0; --argc) {
    const std::string flag = argv[argc - 1];
    if (flag == "--d1-only") {
      o.localFaults = false;
    } else if (flag == "--endpoint") {
      o.endpoint = true;
    } else if (flag == "--writes-in-flight") {
      o.writesInFlight = true;
    } else if (flag == "--no-look-ahead") {
      o.lookAhead = 0;
    } else if (flag == "--look-ahead-1") {
      o.lookAhead = 1;
    } else {
      std::fprintf(stderr,
                   "unknown flag %s (--d1-only, --endpoint, --writes-in-flight, "
                   "--no-look-ahead, --look-ahead-1)\n",
                   flag.c_str());
      return 2;
    }
  }
  uint64_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000;
  uint64_t first = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  std::map<std::string, int64_t> faults;
  int64_t rows = 0, lost = 0, duplicated = 0, failed = 0, quarantined = 0, sentAhead = 0,
          overtook = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    auto r = d1sync::native::runSeed(seed, o);
    for (const auto& [k, n] : r.faults) faults[k] += n;
    rows += r.rowsCompared;
    lost += r.lost;
    duplicated += r.duplicated;
    quarantined += r.quarantined;
    sentAhead += r.sentAhead;
    overtook += r.overtook;
    if (!r.ok) {
      ++failed;
      std::fprintf(stderr, "FAIL %s\n", r.failure.c_str());
    }
    // Progress for long runs, so a log shows where the run got to.
    if ((seed - first + 1) % 1000 == 0 && seed + 1 < first + count) {
      std::fprintf(
          stderr,
          "progress: %llu seeds done (up to %llu), failed %lld, lost %lld, duplicated %lld\n",
          static_cast<unsigned long long>(seed - first + 1), static_cast<unsigned long long>(seed),
          static_cast<long long>(failed), static_cast<long long>(lost),
          static_cast<long long>(duplicated));
      std::fflush(stderr);
    }
  }
  std::string kinds;
  for (const auto& [k, n] : faults)
    kinds += (kinds.empty() ? "" : ", ") + k + " " + std::to_string(n);
  std::printf(
      "seeds %llu (from %llu), failed %lld; faults: %s; rows compared %lld, lost %lld, "
      "duplicated %lld; quarantined by injected limit errors, then re-sent: %lld; batches sent "
      "before the answer to the one before: %lld, %lld of them arriving first\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(first),
      static_cast<long long>(failed), kinds.c_str(), static_cast<long long>(rows),
      static_cast<long long>(lost), static_cast<long long>(duplicated),
      static_cast<long long>(quarantined), static_cast<long long>(sentAhead),
      static_cast<long long>(overtook));
  return failed ? 1 : 0;
}
