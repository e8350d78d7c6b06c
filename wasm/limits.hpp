// The D1 limit profile the chunker packs against. Defaults are D1's documented and measured
// limits (see SPEC "Facts"); a user may lower any of them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace d1sync {

// How long flush() waits through backoff before it rejects, unless the flushRetryMs option
// says otherwise, and the largest value that option takes (a day).
constexpr int64_t kDefaultFlushRetryMs = 10000;
constexpr int64_t kMaxFlushRetryMs = 86400000;
// D1 errors of no known class are retried with backoff this many times in a row; then the
// engine stops with INTERNAL (health().state 'error') instead of retrying silently forever.
// With the backoff's 250 ms doubling to 60 s, that is a few minutes of D1 answering nonsense.
constexpr int kMaxUnknownD1Failures = 12;

struct Limits {
  size_t maxStatementBytes = 100000;  // "statement too long" beyond this
  int maxBoundParameters = 100;       // the engine binds none, kept for hosts that do
  int maxColumns = 100;
  size_t maxRowBytes = 2000000;  // a larger row cannot enter D1: quarantined as D1_LIMIT
  int maxExpressionDepth = 100;
  int maxCompoundSelect = 5;
  // SQLite grows its op array by doubling and checks the new size against 25,000, so the
  // largest program that prepares has 21,504 ops. We plan against a fraction of it.
  int vdbeOps = 21504;
  double vdbeMargin = 0.9;
  int maxStatementsPerBatch = 200;
  // Records (upserts, deletes, range deletes) per batch; 0: no cap. A sync endpoint's
  // rowsPerRequest sets it.
  size_t maxRecordsPerBatch = 0;
  size_t maxBatchBytes = 6000000;
  // Expected D1 cost, used to keep a batch well inside D1's 30 s per batch.
  int64_t batchTimeBudgetMs = 5000;
  int64_t expectedRowsPerSecond = 100000;
  int queriesPerInvocation = 1000;
  // Paging of the local database.
  size_t pageChanges = 20000;  // outbox rows read per page
  size_t copyPageRows = 20000;
  size_t pageBytes = 4000000;  // a page's rows, roughly: bounds the engine's memory
  // Values larger than this travel in parts appended by UPDATEs, so no statement outgrows
  // maxStatementBytes whatever a row holds.
  size_t inlineValueBytes = 16000;
  size_t partBytes = 40000;            // payload bytes per appended part (hex doubles it)
  size_t localStatementBytes = 90000;  // the local DB has the same 100 KB cap in a DO

  size_t vdbeBudget() const { return static_cast<size_t>(vdbeOps * vdbeMargin); }
  size_t rowsPerBatchByTime() const {
    return static_cast<size_t>(expectedRowsPerSecond * batchTimeBudgetMs / 1000);
  }
};

}  // namespace d1sync
