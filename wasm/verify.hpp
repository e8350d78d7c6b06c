// verify(): proves that D1 holds what the local database says it should, or names the keys
// where it does not, without moving the rows (D1 bills rows read, not rows compared).
//
// Each table's key space is cut into ranges at local quantiles (at least 1,000 rows a range,
// at most about 100 ranges a table). Each range is fingerprinted on both sides by the same
// statement (fingerprint.hpp): the local side runs it when the batch that carries it to D1 is
// built, so both describe one moment of the partition (the engine builds verify batches only
// when every captured change is in D1 and nothing else reaches D1 until the answer is back).
// A range that differs is narrowed: when both sides hold at most kListRows rows, the rows are
// listed with their per-row fingerprints and compared key by key; otherwise it is split 16 ways
// at the quantiles of whichever side holds more rows (D1's are asked for when D1 holds more).
// The differing rows' values are then read from both sides for the report.
//
// Cost: an equal table of n rows reads about n rows on each side, in n / (1,000 x rangesPerBatch)
// round trips; one differing row in a 1,000-row range costs one listing (1,000 rows read) and
// one read of its values.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "errors.hpp"
#include "fingerprint.hpp"
#include "host.hpp"
#include "limits.hpp"
#include "schema.hpp"

namespace d1sync {

struct VerifyDifference {
  std::string key;                   // the key as comma-separated literals
  std::optional<std::string> local;  // the row as a tuple of literals; none: not there
  std::optional<std::string> d1;
};

struct VerifyUnresolved {
  std::optional<std::string> lo, hi;
  int64_t rowsLocal = 0, rowsD1 = 0;
};

struct VerifyTableReport {
  std::string table;
  int64_t rowsLocal = 0, rowsD1 = 0;
  int64_t ranges = 0;  // range fingerprints compared
  std::vector<VerifyDifference> differences;
  // Ranges known to differ but not narrowed: the report reached its difference limit.
  std::vector<VerifyUnresolved> unresolved;
};

struct VerifyReport {
  std::vector<VerifyTableReport> tables;
  int64_t rowsReadLocal = 0, rowsReadD1 = 0;
  int64_t batches = 0, statements = 0;
  int64_t startedAt = 0, ms = 0;
  int64_t appliedSeq = 0;  // the watermark both sides were compared at (its last value)
  std::string errorCode;   // empty: the verify ran to the end
  std::string error;
  bool equal() const;
  int64_t differences() const;
  std::string json() const;
};

// What a verify asks of D1 about one table, in names and literals: the engine builds the SQL
// itself when it reaches D1 directly, a sync endpoint after checking every name against its
// allow-list and D1's schema and every literal against the changeset grammar.
struct VerifyTable {
  std::string table;                       // D1's name
  std::vector<std::string> keys, columns;  // D1's column names; columns include the key
  bool integerKey = false;
  uint64_t seed = 0;  // the fingerprint's weights
  int inlineBlocks = 1;
};
struct VerifyRead {
  enum Kind { Range, List, Split, Fetch } kind = Range;
  FpRange range;                  // Range, List, Split
  int64_t step = 1;               // Split: every step-th key becomes a bound
  std::vector<std::string> keys;  // Fetch: keys as comma-separated literals
};
FpParams verifyParams(const VerifyTable& t);
// The D1 statement answering `read`; `tenant` filters the partition ("col = literal").
std::string verifyD1Statement(const VerifyTable& t, const std::optional<std::string>& tenant,
                              const VerifyRead& read);
// The read as a sync endpoint's request carries it (sync_protocol.hpp, op "read"), and back.
std::string verifyReadJson(const VerifyTable& t, const VerifyRead& read);

// Parses a report (VerifyReport::json()) into table -> keys to send again.
std::string parseRepairKeys(const std::string& json,
                            std::map<std::string, std::vector<std::string>>& out);

class Verifier {
 public:
  // Rows both sides must be at or below for a range to be listed rather than split.
  static constexpr int64_t kListRows = 1024;

  Verifier(LocalDb& local, const Limits& limits, uint64_t seed, size_t maxDifferences);

  // Adds a table: `tenant` is D1's filter for this partition ("col = literal"), if any. Fails
  // (with the reason, and D1_LIMIT in `code`) for a table whose fingerprint would not fit one
  // statement, or with INTERNAL when the local database refuses a read.
  std::string addTable(const Table& t, const std::optional<std::string>& tenant, ErrorCode& code);

  // The statements of the next D1 batch (the local side of each is computed now), and the
  // same reads as a sync endpoint's requests (verifyReadJson). Empty when the verify is done.
  // Returns a local error message, empty on success.
  std::string nextBatch(std::vector<std::string>& statements, std::vector<std::string>& reads);
  // D1's answers to the statements nextBatch() gave, one Rows each, in order.
  std::string onResults(const std::vector<Rows>& results);
  // The batch did not reach D1 (or its answer was lost): its work is queued again.
  void requeue();
  // The batch was too big for D1: fewer statements next time. False when already at one.
  bool shrink();
  bool done() const { return queue_.empty() && flight_.empty(); }

  VerifyReport report;

 private:
  struct TableSpec {
    Table table;
    FpSource local;
    VerifyTable d1;
    std::optional<std::string> tenant;
    FpParams prm;
    std::string localRow;  // SQL rendering a local row as a tuple of literals
  };
  struct Task {
    enum Kind { Range, List, SplitD1, Fetch } kind = Range;
    size_t table = 0;
    FpRange range;
    bool top = false;  // a first-level range: its counts are the table's
    int64_t rowsHint = 0;
    // Range: the local answer
    int64_t n = 0;
    std::string f1, f2;
    // List: the local rows (k -> key literal, e)
    std::map<std::string, std::pair<std::string, std::string>> rows;
    // Fetch: indexes into the table's differences
    std::vector<size_t> diffs;
  };

  std::string localExec(const std::string& sql, Rows& out);
  std::string prepare(Task& t, std::string& statement, std::string& read);
  std::string onRange(Task& t, const Rows& r);
  std::string onList(Task& t, const Rows& r);
  std::string onSplit(Task& t, const Rows& r);
  void onFetch(Task& t, const Rows& r);
  std::string splitLocal(const Task& t, int64_t rows);
  // Sub-ranges of `parent` cut at `bounds` (one bound a row), queued next.
  void queueSubRanges(const Task& parent, const Rows& bounds, int64_t rowsHint);
  std::string localTuple(const TableSpec& s, const std::string& keyLiteral,
                         std::optional<std::string>& out);
  void queueFetches();
  bool full() const;

  LocalDb& local_;
  const Limits& limits_;
  uint64_t seed_;
  size_t maxDifferences_;
  size_t maxStatements_;
  std::vector<TableSpec> specs_;
  std::deque<Task> queue_;
  std::vector<Task> flight_;
  std::vector<std::pair<size_t, size_t>> unfetched_;  // (table, difference) with no D1 values
};

// A verify() the engine runs (engine_verify.cpp).
struct VerifyRun {
  VerifyRun(LocalDb& local, const Limits& limits, uint64_t seed, size_t maxDifferences)
      : verifier(local, limits, seed, maxDifferences) {}
  Verifier verifier;
  std::optional<std::string> table;  // one table, or every replicated one
  bool prepared = false;             // the tables are added
};

}  // namespace d1sync
