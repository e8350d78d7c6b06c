// The replication engine: a state machine driven by its host.
//
//   Engine e(local, options);                  // CONSTRUCTOR: borrows `local`, which must outlive
//   it for (;;) {
//     Step s = e.next(now);                    // METHOD, inside one local transaction
//     if (s.kind == Step::Send)  e.complete(target.apply(s.batch), now);  // also in a transaction
//     if (s.kind == Step::Wait)  sleep until s.waitUntilMs (or return and let an alarm call back)
//     if (s.kind == Step::Idle)  break;        // everything captured so far is in D1
//     if (s.kind == Step::Failed) stop;        // FENCED, CONFIG, SCHEMA, INTERNAL: for good
//     if (s.kind == Step::Rejected) stop;      // the drive's retry budget ran out: retry later
//   }
//
// At most two D1 requests are in flight (lookAhead 2: sendAhead() while the first awaits its
// answer), completed in the order sent; D1 applies batches strictly in order, each guarded by
// the batch id and watermark the one before it leaves. A Batch and its
// BatchResult are described in target.hpp: a synchronous host calls a Target's apply(), an
// asynchronous one (JS) runs the batch itself and builds the BatchResult through an adapter
// that classifies D1's message once (bindings/bindings.cpp). The engine acts on the result's
// typed failure class, never on its text; it sums the rows the target reports read and
// written into health() and metrics().
//
// The drive policy is the engine's, the same for every host: beginDrive() starts a flush (its
// retry budget, a batch cap, or "until started"); next() says when it ends and with which
// error; nextRunAt() says when the host should call again; terminal() says whether a failure
// is for good. A host only runs the calls and the batches.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "backoff.hpp"
#include "changeset.hpp"
#include "chunker.hpp"
#include "ddl.hpp"
#include "errors.hpp"
#include "events.hpp"
#include "fence.hpp"
#include "host.hpp"
#include "limits.hpp"
#include "planner.hpp"
#include "schema.hpp"
#include "state.hpp"
#include "target.hpp"

namespace d1sync {

struct VerifyRun;  // verify.hpp

struct Options {
  std::string sourceId;
  std::optional<std::vector<std::string>> tables;  // default: every user table
  std::optional<std::string> tenantColumn;
  std::string tenantLiteral;  // the tenant value as an SQL literal ('room-42' or 42)
  Limits limits;
  SchemaMode schema = SchemaMode::Replica;
  bool takeover = false;
  // Start an empty local database from what D1 holds for this source (engine_hydrate.cpp).
  bool hydrate = false;
  // The target is a sync endpoint (sync_protocol.hpp): batches carry requests (JSON control
  // messages, changesets) instead of SQL, and D1's schema and tenant are the endpoint's.
  bool remote = false;
  // A push that never writes to the local database (the command line's push --snapshot): the
  // bookkeeping lives in TEMP tables, nothing is captured, tables D1 already has are left as
  // they are (the host verifies and repairs them), and each run takes the source over from
  // the previous snapshot run (its incarnation starts with "snapshot-").
  bool snapshot = false;
  uint64_t seed = 0;  // randomness for the incarnation id and backoff jitter (host supplied)
  // How long one drive (a flush) keeps waiting through backoff before it is rejected.
  int64_t flushRetryMs = kDefaultFlushRetryMs;
  // 0: each batch is read once the one before is answered; 1: read while it is in flight
  // (Engine::lookAhead()); 2: and sent before that answer too, by a host that can have two
  // requests in flight (Engine::sendAhead()).
  int lookAhead = 2;
  // Which events takeEvents() hands the host (events.hpp); Off records none.
  LogLevel log = LogLevel::Off;
};

// Parses the JSON form the bindings pass ({sourceId, tables, tenant:{column,value}, limits,
// schema, takeover, seed}). Returns an error message, empty on success.
std::string parseOptions(const std::string& json, Options& out);
// Names the `limits` option accepts.
std::vector<std::string> limitNames();

struct Step {
  // Failed: the engine stopped for good (terminal()). Rejected: the drive gave up waiting (its
  // retry budget is spent); the engine keeps its backoff and nextRunAt() says when to retry.
  enum Kind { Send, Wait, Idle, Failed, Rejected } kind = Idle;
  Batch batch;                       // Send
  bool lookAhead = false;            // Send: call lookAhead() while the batch is in flight
  int64_t waitUntilMs = 0;           // Wait
  ErrorCode code = ErrorCode::None;  // Failed, Rejected
  std::string message;               // Failed, Rejected
  std::string d1Message;             // Failed, Rejected: the last error D1 (or the local DB) gave
};

struct Status {
  ErrorCode code = ErrorCode::None;
  std::string message;
  bool ok() const { return code == ErrorCode::None; }
};

class Engine {
 public:
  Engine(LocalDb& local, Options options);
  ~Engine();

  Step next(int64_t nowMs);
  void complete(const BatchResult& result, int64_t nowMs);
  // While the batch of a Send step marked lookAhead is in flight, reads and renders the next
  // one (inside a local transaction of its own), as if the batch in flight commits: the next
  // job of the same page, or the next page. next() sends it only if that holds — the batch
  // committed, nothing else changed the engine's state or the local schema — and reads again
  // otherwise; batches still reach D1 one at a time, in order, each guarded by the watermark
  // the one before sets. Rows changed locally after the read are in the outbox, as they would
  // be after any read. Memory: one more page (Limits::pageBytes of rows) and its statements.
  void lookAhead(int64_t nowMs);
  // With lookAhead 2, right after lookAhead(): the batch it prepared, to send now, before the
  // answer to the one in flight. Its guard expects the watermark and batch id that the batch
  // in flight sets, so D1 applies it only after that one, and refuses it if that one did not
  // commit or it arrives first. The host completes the two in the order sent. When the first
  // fails, the engine holds that answer until the second's: the second committing proves the
  // first did; the second refused by its guard leaves the first's answer standing; any other
  // failure of the second makes the engine ask D1 which of the two it holds (both ids known),
  // and send what did not commit alone. Empty when nothing is prepared or the batch in flight
  // is not a copy or changes batch. Memory: the second batch's statements and page, until it
  // is answered, and the page read after it.
  std::optional<Batch> sendAhead(int64_t nowMs);
  int64_t lookAheadPrepared() const { return aheadPrepared_; }
  int64_t lookAheadUsed() const { return aheadUsed_; }

  // Starts a drive (one flush): next() answers Idle once `maxBatches` requests were sent
  // (negative: no cap) or, with `untilStarted`, once started(); and Rejected once the waits it
  // handed out would pass `retryBudgetMs` (negative: wait as long as it takes; default: the
  // flushRetryMs option). Without a drive, next() runs until idle and waits without limit.
  void beginDrive(int64_t maxBatches, bool untilStarted);
  void beginDrive(int64_t maxBatches, bool untilStarted, int64_t retryBudgetMs);
  // True once the engine stopped for good (FENCED, CONFIG, SCHEMA, INTERNAL): only a person
  // (or a new engine) can move it on. A host's alarm swallows every other failure.
  bool terminal() const { return phase_ == Phase::Failed; }
  // When the host should call next() again: the backoff's retry time, the time work became due
  // (a past time: now), or nothing when all is in D1 or the engine stopped. health() reports
  // the same value as nextRetryAt. Reads the outbox's newest sequence (an index seek).
  std::optional<int64_t> nextRunAt(int64_t nowMs);

  // True once the claim and the D1 schema are in place.
  bool started() const { return phase_ == Phase::Running && schemaReady_; }
  // Largest outbox sequence captured so far (reads the local database).
  int64_t capturedSeq();
  int64_t appliedSeq() const { return state_.appliedSeq; }
  bool initialSyncDone() const;
  // The backoff's retry time alone (nextRunAt() is what a host schedules by).
  std::optional<int64_t> nextRetryAt() const;
  Status fatal() const { return fatal_; }

  std::string healthJson(int64_t nowMs);
  std::string metricsText(int64_t nowMs);
  // Quarantined changes with id > `after`, oldest first, at most `limit` (0: all).
  std::string quarantinedJson(int64_t after = 0, size_t limit = 0);
  Status retryQuarantined(int64_t nowMs);
  // Recopies one table (or all when empty) for this source; other sources' rows stay.
  Status resync(const std::string& table);
  // Loads the persisted state without writing anything, so health() describes the database as
  // it stands (a read-only look: the command line's status). Fails on a database that never
  // replicated or replicates under another sourceId.
  Status inspect();
  // Drops the capture triggers and the bookkeeping tables.
  Status uninstall();

  // verify() (engine_verify.cpp, verify.hpp): asks the next drive to compare D1 with the local
  // database once every captured change is in D1. `request`: {table?, tenant?,
  // maxDifferences?}. The drive ends (Idle) when the comparison does; verifyReport() then
  // gives its report (JSON) once.
  Status beginVerify(const std::string& request, int64_t nowMs);
  bool verifying() const { return verify_ != nullptr && !verifyDone_; }
  std::string verifyReport();
  // repair(): queues the keys of a verify report to be sent again, as local changes are: a
  // key present locally is written to D1 as it stands, one that is not is deleted there.
  Status repair(const std::string& report, int64_t nowMs);
  const std::vector<std::string>& warnings() const { return warnings_; }
  // The log events since the last call, one JSON object per line (events.hpp).
  std::string takeEvents() { return events_.take(); }

 private:
  enum class Phase { Init, Claim, Takeover, Running, Failed };

  // What a copy page does to a table's copy once D1 has it.
  struct CopyEffect {
    std::string table;
    std::deque<KeyRange> ranges;  // what is left after the page
    bool replaces = false;        // the page copies part of a range: D1's rows in it are replaced
    std::optional<std::string> deleteLow, deleteHigh;  // that part
    int64_t total = 0;
    int64_t rows = 0;
    bool finished = false;
  };
  struct Page {
    enum Kind { Schema, Copy, Changes } kind = Changes;
    int64_t uptoSeq = 0;  // Changes: the watermark once every job is in D1
    std::vector<CopyEffect> copies;
    std::vector<std::pair<std::string, TablePhase>> phases;      // Schema: table -> new phase
    std::vector<std::string> dropped;                            // Schema: tables gone locally
    std::vector<std::pair<std::string, std::string>> maxRowids;  // Changes: table -> max(rowid)
    Changeset changes;                // Copy, Changes: what D1 gets (the source half's output)
    std::vector<TargetShape> shapes;  // where each of its tables lands in D1
    std::deque<Job> jobs;             // the D1 half's plan for it
    int64_t rows = 0;
  };
  enum class Flight { None, Claim, Takeover, Probe, Job, Hydrate, Verify };
  // What lookAhead() prepared: the statements of the page's next job, or the next page (and
  // its first job's statements) with the state and schema it was read under.
  struct Ahead {
    const Job* job = nullptr;  // the job `statements` render; set once its page is page_
    std::optional<Page> page;  // the page after the one in flight
    std::string stateKey, schemaKey;
    uint64_t afterPages = 0;  // pagesFinished_ once the page in flight is done
    // D1 targets only: a sync endpoint's job is encoded when sent.
    std::vector<std::string> statements;
  };
  // A batch's figures while it is in flight, for the counters and the log once it commits.
  struct FlightInfo {
    std::string batchId;
    size_t statements = 0, bytes = 0;
    int64_t rows = 0, startMs = 0;
    std::vector<size_t> statementBytes;  // debug events only
    bool ahead = false;                  // sent before the answer to the batch before it
  };
  // The batch sendAhead() sent while another was in flight.
  struct Second {
    FlightInfo info;
    std::optional<Page> page;     // its page, when it opens the next one
    bool maybeCommitted = false;  // both answers were lost: the probe tells
  };

  // What reading a page found: nothing to do, a page, or a local failure (recorded, retried).
  enum class Read { Nothing, Ready, Failed };

  // engine.cpp
  Step fail(ErrorCode code, const std::string& message);
  Step backoffStep(int64_t nowMs);
  Step waitStep(int64_t untilMs, int64_t nowMs);
  bool retryUnknown(D1Failure f, const std::string& error, int64_t nowMs);
  void retryAfter(D1Failure f, const std::string& error, int64_t nowMs);
  bool localFailed(const std::string& what, const QueryResult& r);
  Step send(Flight kind, std::vector<std::string> statements);

  // engine_remote.cpp: the same flights through a sync endpoint (Options::remote)
  Step sendRemote(Flight kind, const char* op, std::string request);
  Step sendRemoteJob(const Job& job, const std::string& batchId, int64_t applied, int64_t nowMs);
  bool adoptEndpoint(const BatchResult& claim);
  std::optional<Page> remoteSchemaPage();
  Step sendJob(int64_t nowMs);
  void onJobDone(int64_t nowMs);
  void completeJob(const BatchResult& r, int64_t nowMs);
  static bool refusedAhead(const BatchFailure& failure, const FlightInfo& info);
  bool overtaken(const BatchFailure& failure, const FlightInfo& info);
  void takeSecond();
  void dropSecond();
  static FlightInfo flightOf(const std::string& batchId, const std::vector<std::string>& statements,
                             int64_t rows, int64_t nowMs, bool statementBytes);
  void onJobFailed(const BatchFailure& failure, int64_t nowMs);
  void onRecordsRefused(D1Failure f, const std::string& error, int64_t nowMs);
  void onProbe(const BatchResult& r, int64_t nowMs);
  bool quarantine(const std::string& table, const std::string& key, ErrorCode code,
                  const std::string& error, int64_t nowMs);
  void finishPage(int64_t nowMs, bool save = true);
  void applyPageEffects(const Page& p, State& s);
  // engine_ahead.cpp
  bool takeAhead(std::optional<Page>& out);
  std::vector<std::string> renderJob(const Job& job);
  std::string stateKey(const State& s) const;
  std::string schemaKey() const;
  void scheduleRetry(int64_t nowMs);
  bool persist();
  bool loadOrInit(int64_t nowMs);
  bool loadState();
  std::string newBatchId();
  void recordError(ErrorCode code, const std::string& message);
  void warn(const std::string& message);

  // engine_claim.cpp
  std::optional<std::string> pendingMark(const char* kind);
  Step claim(int64_t nowMs);
  std::optional<Page> schemaWithClaim(std::vector<std::string>& statements);
  static bool schemaClaimUndone(const BatchResult& r, bool withSchema);
  void onClaimFailed(const BatchResult& r, bool withSchema, int64_t nowMs);
  void onClaim(const BatchResult& r, int64_t nowMs);
  bool adoptClaimedRow(const SourceRow& row);
  void onTakeover(const BatchResult& r, int64_t nowMs);
  void reconcileD1Tables(const Rows& d1Tables);
  bool reconcileD1Table(const Table& t, TableState& ts, const std::string& createSql);

  // engine_hydrate.cpp
  bool startHydrate();
  std::optional<Step> hydrateStep(int64_t nowMs);
  std::string hydratePageQuery(const Table& t);
  size_t hydratePageLimit();
  // hydrate_values.cpp
  bool holdForBigValues(const Rows& rows);
  std::optional<Step> hydratePieceStep(const Table& t);
  void onHydratePieces(const BatchResult& r);
  bool writeBigValues(const Table& t, const Rows& rows, const std::vector<std::string>& cols);
  std::string hydrateKeyWhere(const Table& t, const Rows& rows, size_t row, bool d1) const;
  void onHydrate(const BatchResult& r, int64_t nowMs);
  void hydrateListing(const BatchResult& r);
  void hydratePage(const Rows& rows);
  bool finishHydrate();
  std::optional<Table> hydratedTable(const std::string& name);

  // engine_verify.cpp
  Step verifyStep(int64_t nowMs);
  void onVerify(const BatchResult& r, int64_t nowMs);
  void endVerify(ErrorCode code, const std::string& message);

  // engine_schema.cpp
  bool refreshSchema(int64_t nowMs);
  bool readLocalTables(const std::vector<MasterEntry>& entries, std::vector<Table>& next);
  bool followTable(const Table& t, const std::vector<MasterEntry>& entries);
  void applyResyncRequests();
  std::optional<Page> schemaPage();
  bool alterTable(const Table& t, const TableState& ts, std::vector<std::string>& out);
  void dropGoneTables(Page& page, std::vector<std::string>& out);
  bool installCapture(const Table& t, bool replace = false);
  TargetShape shapeOf(const Table& t, bool shadow) const;
  static std::string shadowName(const std::string& table);

  // engine_pages.cpp
  // copy_reader.cpp
  Read copyPage(std::optional<Page>& out);
  bool copyBounds(const Table& t, const TableState& ts, CopyEffect& e);
  bool readCopySlice(const Table& t, CopyEffect& e, size_t& budget, std::vector<RowLiteral>& rows);
  bool copyChanges(const Table& t, const CopyEffect& e, std::vector<RowLiteral>& rows,
                   TableChanges& tc);
  // outbox_reader.cpp
  Read changesPage(std::optional<Page>& out);
  bool outboxTop(int64_t& next);
  bool checkOutboxKeys(const Table& t, std::vector<std::string>& keys);
  bool readChanges(const Table& t, std::vector<std::string>& keys,
                   const std::unordered_map<std::string, char>& lastOp, TableChanges& tc);
  bool readRows(const Table& t, const std::string& sql, size_t keyColumn,
                std::vector<RowLiteral>& rows, std::vector<size_t>* unitIndex);
  bool readExactRows(const Table& t, std::vector<RowLiteral>& rows,
                     const std::vector<size_t>& which);
  bool fetchBigValues(const Table& t, RowLiteral& row, const std::vector<size_t>& columns,
                      const std::vector<bool>& text);
  TableChanges tableChanges(const Table& t) const;
  bool addRow(const Table& t, TableChanges& out, RowLiteral& row, bool deleteTooLong);
  static void reserveRows(TableChanges& out, const std::vector<RowLiteral>& rows);
  void planPage(Page& page);
  // engine_rowid.cpp
  bool checkRowids(const Rows& log, Page& page);
  void noteVanishedRows(const Table& t, const std::vector<std::string>& absent,
                        const std::unordered_map<std::string, char>& lastOp);
  std::string selectList(const Table& t, const std::string& alias) const;
  std::string packedSelect(const Table& t, const std::string& alias) const;

  // health.cpp
  struct LiveFigures {
    int64_t captured = 0, pending = 0, oldestAt = 0;
    int64_t quarantined = 0;
    std::string error;  // the local read failed: the figures are unknown
  };
  LiveFigures liveFigures();
  std::optional<int64_t> nextRunAt(int64_t nowMs, const LiveFigures& live);
  bool countQuarantined();

  LocalDb& local_;
  Options options_;
  Chunker chunker_;
  Planner planner_;
  D1Shape shape_;
  FenceId fenceId_;
  State state_;
  std::string persisted_;  // the _d1sync_state document last written locally
  // The _d1sync_tables documents last written; none: unknown, rewrite them all.
  std::optional<std::map<std::string, std::string>> persistedTables_;
  Phase phase_ = Phase::Init;
  Status fatal_;
  Backoff backoff_;
  Random random_;
  int64_t retryAtMs_ = 0;
  int64_t retryFloorMs_ = 0;  // the last failure's Retry-After
  int64_t now_ = 0;           // the host's clock at the current call
  bool schemaReady_ = false;
  bool signedZero_ = false;  // the local SQLite has atan2() to tell -0.0 from 0.0
  bool needProbe_ = false;
  std::string claimMark_;
  // The schema the claim in flight creates in D1 (schemaWithClaim()); after such a claim
  // fails, claims go alone.
  std::optional<Page> claimSchema_;
  bool claimAlone_ = false;
  SourceRow theirs_;
  std::vector<Table> tables_;  // current local schema of replicated tables
  std::vector<std::string> warnings_;
  Events events_;
  // The tenths of each table's initial copy already logged.
  std::map<std::string, int64_t> copyTenthsLogged_;
  void logFailure(ErrorCode code, const std::string& message);
  void logRetry(int64_t delayMs);
  void logBatch(int64_t ms);
  void logPage(const Page& p);
  std::optional<Page> page_;
  std::optional<Ahead> ahead_;
  uint64_t pagesFinished_ = 0;
  int64_t aheadPrepared_ = 0, aheadUsed_ = 0, aheadSent_ = 0;  // by this engine, for health()
  bool speculating_ = false;  // inside lookAhead(), state_ as if the batch in flight committed
  Flight flight_ = Flight::None;
  uint64_t requestId_ = 0;
  FlightInfo flightInfo_;
  std::optional<Second> second_;
  std::optional<BatchResult> firstFailed_;  // the first answer, held until the second's
  bool aloneNext_ = false;                  // after two failed together: the next batch goes alone
  std::set<std::string> resyncRequests_;    // applied between pages
  bool resyncAll_ = false;
  int schemaFailures_ = 0;
  bool loaded_ = false;         // state_ holds the persisted state (or a new one)
  bool inspected_ = false;      // inspect() loaded it: health() describes it as persisted
  int unknownFailures_ = 0;     // D1 errors of no known class in a row
  int64_t quarantined_ = -1;    // rows in _d1sync_quarantine; -1: not counted yet
  int64_t dueSinceMs_ = 0;      // when work was first seen due (nextRunAt), 0: none
  std::string lastLocalError_;  // the local database's message for the last failed write
  struct Drive {
    int64_t maxBatches = -1, budgetMs = -1, batches = 0, waitedMs = 0;
    bool untilStarted = false;
  } drive_;
  size_t changePageLimit_;      // outbox rows per page, adapted to the bytes changes carry
  size_t hydrateRowBytes_ = 0;  // bytes per row of the last hydrate page (0: none yet)
  size_t hydrateLimit_ = 0;     // rows the hydrate page in flight asked for
  // hydrate_values.cpp: a page whose values over the inline size are read in pieces first.
  struct HydrateBig {
    size_t row = 0, column = 0;
    bool text = false;
    size_t bytes = 0;
    std::string hex;  // the pieces read so far
  };
  std::optional<Rows> hydrateHeld_;
  std::vector<HydrateBig> hydrateBig_;
  std::vector<size_t> hydratePieces_;  // the big value each statement in flight reads
  std::unique_ptr<VerifyRun> verify_;
  bool verifyDone_ = false;
};

}  // namespace d1sync
