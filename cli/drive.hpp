// The command line's drive loop, shared by push and pull: each engine call in one transaction
// of the file, each batch sent to the target between them, the engine's waits slept (Ctrl-C
// stops between requests), progress drawn; and the run's summary.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "progress.hpp"
#include "session.hpp"

namespace d1sync::cli {

struct Outcome {
  Step last;
  int exit = kOk;
  std::string error;  // a local failure outside the engine (the file)
  bool interrupted = false;
};

Outcome drive(Session& s, Engine& engine, Progress& progress, int verbose);
// The engine's repair() in one transaction of the file, as every engine call runs: the keys
// are queued all or none.
Status repairInTransaction(Session& s, Engine& engine, const std::string& report);
// The run as one JSON document: rows, requests, bytes, seconds, peak RSS, health, the error.
nlohmann::json summary(const char* command, const Session& s, Engine& engine, const Outcome& o,
                       int64_t rowsBefore, int64_t startMs);
void printHuman(const char* command, const nlohmann::json& out, bool quiet);
// The process's peak resident memory: the engine streams, so it should not grow with the file.
int64_t maxRssKb();

}  // namespace d1sync::cli
