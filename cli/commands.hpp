// The commands: each opens what it needs (session.hpp), runs, prints a human summary on stderr
// or one JSON document on stdout (--json), and returns the exit code (args.hpp).
#pragma once

#include <atomic>

#include "args.hpp"

namespace d1sync::cli {

// Set by SIGINT/SIGTERM: a push stops between requests.
extern std::atomic<bool> gInterrupted;

int runPush(const Args& args);
int runPlan(const Args& args);  // push --dry-run
int runStatus(const Args& args);
int runPull(const Args& args);
int runVerify(const Args& args);
int runSnapshot(const Args& args);  // push --snapshot

}  // namespace d1sync::cli
