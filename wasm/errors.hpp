// Error codes (stable, shown to users as D1SyncError.code) and the classification of D1's
// messages, in the order SPEC gives: first match wins.
#pragma once

#include <string>
#include <vector>

namespace d1sync {

// Internal stays last: errorCodeNames() runs up to it.
enum class ErrorCode { None, D1Transient, D1Limit, D1Constraint, Schema, Fenced, Config, Internal };

const char* codeName(ErrorCode code);
// Every stable code (codeName of each ErrorCode but None), in declaration order.
std::vector<std::string> errorCodeNames();
// The code a name stands for (codeName's inverse); Internal for a name it does not know.
ErrorCode codeFromName(const std::string& name);

enum class D1Failure {
  Fenced,      // our guard refused the batch: another writer, or our own lost commit
  DeferredFk,  // a deferred FOREIGN KEY failing at commit: row-level, not transient
  Transient,   // retry the same batch after backoff (and after checking it did not commit)
  Limit,       // a statement is too big for D1: split it
  Schema,      // D1 lacks a table or column we expect
  Row,         // a constraint D1 enforces refused some row
  Other,       // anything else: retried with backoff, reported as INTERNAL
  Refused,     // the target refused the caller for good (a sync endpoint's 403): CONFIG
};

// D1's message to its class. Called where a D1-like target's text enters (the JS adapter in
// bindings/bindings.cpp, the native D1 simulator); the engine reads BatchFailure::kind
// (target.hpp) instead.
D1Failure classifyD1Error(const std::string& message);
ErrorCode codeFor(D1Failure failure);
// A failure after which the batch may still have committed (its answer was lost).
bool mayHaveCommitted(D1Failure failure);

}  // namespace d1sync
