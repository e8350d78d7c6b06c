// What the engine persists in the local database, so a new engine over the same database
// resumes exactly: the fencing identity, the watermark and the health counters in
// _d1sync_state (one small JSON document, rewritten when a batch lands), and each table's copy
// progress in _d1sync_tables (one document per table, rewritten only when that table's state
// changes). An older database keeps the tables inside the one document: it is read as well.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace d1sync {

enum class TablePhase {
  Create,  // D1 table (or its shadow) still to be created
  Copy,    // initial copy in progress
  Swap,    // shadow copied: swap it in for the old D1 table
  Live,    // followed through the outbox
};

// Keys of one table to copy: the rows with low < key <= upto are read, page by page (`low`
// moves up as the cursor), and replace D1's rows with low < key <= high. Keys are SQL literal
// lists ("1,'a'"). A full copy is one range from the smallest key to the largest present when
// it began (later rows come through the outbox), with no `high`, so it also removes D1 rows
// above the last local key; a repair copies the ranges where D1 differs.
struct KeyRange {
  std::optional<std::string> low;   // exclusive; none: from the smallest key
  std::optional<std::string> upto;  // inclusive read bound; none: no rows to read
  std::optional<std::string> high;  // inclusive delete bound; none: no upper end
  bool operator==(const KeyRange& o) const = default;
};

struct TableState {
  std::string sql;                   // sqlite_master.sql when last reconciled
  std::vector<std::string> columns;  // column names the D1 table has (tenant/rowid excluded)
  std::vector<std::string> key;      // D1 key column names (tenant excluded)
  std::vector<std::string> indexes;  // the CREATE INDEX statements D1 has for this table
  TablePhase phase = TablePhase::Create;
  bool shadow = false;     // copying into a shadow table that replaces the D1 table when done
  bool dropFirst = false;  // the D1 table exists with another shape: drop it before creating
  bool copyStarted = false;
  std::deque<KeyRange> ranges;  // what the copy has still to do, front first
  int64_t copied = 0;
  int64_t total = 0;
  std::string maxRowid;  // tables keyed by rowid: max(rowid) at the last page, "" unknown
  bool recopy = false;   // capture was missing for a while: copy again between pages

  // Forgets the copy's progress so the next copy starts from the smallest key.
  void resetCopy() {
    copyStarted = false;
    ranges.clear();
    copied = total = 0;
  }
};

struct Counters {
  int64_t totalSyncs = 0;
  int64_t syncErrors = 0;
  int64_t retries = 0;
  int64_t rowsReplicated = 0;
  int64_t statementsSent = 0;
  int64_t batchesSent = 0;
  int64_t bytesSent = 0;
  int64_t d1RowsRead = 0;      // rows D1 reported reading for the batches it committed
  int64_t d1RowsWritten = 0;   // rows D1 reported writing for the batches it committed
  int64_t rowsHydrated = 0;    // rows a hydrate wrote locally from D1
  int64_t lastVerifiedAt = 0;  // when the last verify() ended (0: never)
  bool lastVerifyEqual = false;
  int64_t lastVerifyDifferences = 0;  // keys the last verify() found differing
  int64_t lastSyncAt = 0;
  int64_t lastSuccessAt = 0;
  double syncSecondsSum = 0;
  std::string lastError;
  std::string lastErrorCode;
};

// A hydrate in progress (the local database filled from D1 before it replicates): persisted so
// a restart carries on from the last page written.
struct HydrateState {
  bool active = false;
  bool listed = false;                       // D1's tables are known and created locally
  std::deque<std::string> tables;            // tables still to fetch, front first
  std::map<std::string, std::string> d1Sql;  // each table's CREATE TABLE in D1
  std::optional<std::string> after;          // the front table's last key fetched (key literals)
  int64_t rows = 0;                          // rows written locally so far
};

struct State {
  std::string sourceId;
  std::string incarnation;
  int64_t epoch = 0;
  int64_t appliedSeq = 0;    // every outbox row up to here is in D1
  std::string lastBatch;     // the batch id D1 holds in _d1sync_sources.last_batch
  std::string pendingBatch;  // the batch sent and not yet acknowledged
  // The batch sent after it before its answer (lookAhead 2), guarded by pendingBatch's commit.
  std::string pendingAhead;
  std::string pendingClaim;  // the mark of a claim or takeover sent and not yet acknowledged
  int64_t batchCounter = 0;
  bool everClaimed = false;
  std::map<std::string, TableState> tables;
  Counters counters;
  HydrateState hydrate;
};

// The whole state as one document; without `withTables`, the document _d1sync_state holds.
std::string stateToJson(const State& s, bool withTables = true);
// Returns false (state untouched) when `json` is not a state document. Tables inside it (an
// older database's) are read too.
bool stateFromJson(const std::string& json, State& s);
// One table's document in _d1sync_tables.
std::string tableStateToJson(const TableState& t);
// Returns false (`t` untouched) when `json` is not a table document.
bool tableStateFromJson(const std::string& json, TableState& t);

const char* phaseName(TablePhase p);

}  // namespace d1sync
