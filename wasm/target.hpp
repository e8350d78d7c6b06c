// The target: where the engine's batches are applied (Cloudflare D1, or something that behaves
// like it). The engine never talks to a target itself; it hands its host one Batch at a time
// (Step::Send) and is told the outcome as a BatchResult (Engine::complete).
//
// A Batch is atomic: every statement commits or none does. Its statements are SQL text without
// bound values (values travel as exact literals); the first is the fence's guard and the last
// advances the watermark, so a batch that committed is recognised later even when its answer
// was lost. At most two batches are in flight, answered in the order sent; the guard makes the
// target apply them strictly in order (a batch that overtakes the one before it is refused).
//
// A BatchResult says whether the batch committed and, when it did not, how it failed, as a
// typed class (D1Failure, wasm/errors.hpp) that the engine acts on: Fenced (the guard refused),
// Transient (retry the same batch after backoff), Limit (split it), Schema (re-read the
// target's tables), Row and DeferredFk (a row was refused: bisect, then quarantine it), Other
// (retried with backoff, and the engine stops with INTERNAL after kMaxUnknownD1Failures of
// them in a row). `failure.statement` is the index in Batch::statements of the statement that
// failed when the target knows it, -1 otherwise; `failure.message` is the target's own text,
// verbatim: the engine records it for health() and quarantined() but never parses it. When the
// batch committed, `results` holds one Rows per statement (the rows a statement returned, none
// for a write) and `rowsRead` / `rowsWritten` are the target's own figures for the whole batch
// (what D1 bills), summed into health() and metrics(); a target that does not know them
// reports 0.
//
// Hosts come in two kinds:
//   - Synchronous hosts implement Target: apply() runs the batch and returns its result. The
//     native D1 simulator (tests/native/d1_simulator.hpp) is one; a target speaking D1's REST
//     API over libcurl would be another. A synchronous loop is
//         Step s = engine.next(now);
//         if (s.kind == Step::Send) engine.complete(target.apply(s.batch), now);
//   - Asynchronous hosts (JavaScript: a Worker's D1 binding answers with a promise) run the
//     batch themselves and hand the engine a BatchResult built by an adapter
//     (bindings/bindings.cpp, EngineHandle::complete). D1 reports a failure only as text, so
//     the adapter classifies that text once, with classifyD1Error (wasm/errors.hpp), and sums
//     the per-statement rows read and written that D1's batch() results carry in `meta`.
// Either way the message is classified by whoever knows what kind of target produced it, once;
// the engine reads `failure.kind` and nothing else to decide what to do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.hpp"
#include "host.hpp"

namespace d1sync {

// One atomic batch: every statement commits or none does.
struct Batch {
  uint64_t id = 0;  // echoed in the BatchResult
  std::vector<std::string> statements;
  // For a sync endpoint (Options::remote) instead of statements: the operation and its body
  // (sync_protocol.hpp).
  std::string op;
  std::string request;
  size_t bytes() const {
    size_t n = 0;
    for (const auto& s : statements) n += s.size();
    return n + request.size();
  }
};

// Why a batch did not commit (or, for a lost answer, why the host cannot tell that it did).
struct BatchFailure {
  D1Failure kind = D1Failure::Other;
  int64_t statement = -1;    // index of the failing statement in Batch::statements; -1: unknown
  std::string message;       // the target's message, verbatim
  int64_t retryAfterMs = 0;  // the target asked not to be retried sooner (Retry-After)
};

struct BatchResult {
  uint64_t id = 0;            // the Batch's id
  bool ok = false;            // true: every statement committed
  BatchFailure failure;       // when !ok
  std::vector<Rows> results;  // when ok: one per statement
  int64_t rowsRead = 0;       // when ok: rows the target read for the batch (0: unknown)
  int64_t rowsWritten = 0;    // when ok: rows the target wrote for the batch (0: unknown)

  static BatchResult succeeded(uint64_t id, std::vector<Rows> results, int64_t rowsRead = 0,
                               int64_t rowsWritten = 0) {
    BatchResult r;
    r.id = id;
    r.ok = true;
    r.results = std::move(results);
    r.rowsRead = rowsRead;
    r.rowsWritten = rowsWritten;
    return r;
  }
  static BatchResult failed(uint64_t id, D1Failure kind, std::string message,
                            int64_t statement = -1) {
    BatchResult r;
    r.id = id;
    r.ok = false;
    r.failure.kind = kind;
    r.failure.statement = statement;
    r.failure.message = std::move(message);
    return r;
  }
};

// A target a host can call synchronously. apply() never throws: a failure is a BatchResult.
class Target {
 public:
  virtual ~Target() = default;
  virtual BatchResult apply(const Batch& batch) = 0;
};

}  // namespace d1sync
