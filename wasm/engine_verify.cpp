// verify() and repair() in the engine: the comparison (verify.hpp) runs as the drive's last
// work, once every captured change is in D1, so both sides describe the same watermark. Each
// verify batch starts with the fence's guard (a verify of a partition another engine now
// writes would compare against a moving target) and carries no watermark advance: it writes
// nothing. While its answer is awaited nothing else reaches D1, and the local fingerprints in
// it were computed when it was built, so each batch compares one moment on both sides.
// A verify's failures are its own: a statement D1 refuses ends the verify with an error in its
// report and leaves replication alone; only a transient failure is retried, and a fenced guard
// is probed as a job's would be.
#include <nlohmann/json.hpp>

#include "engine.hpp"
#include "fence.hpp"
#include "json_fields.hpp"
#include "render.hpp"
#include "sql_text.hpp"
#include "sync_protocol.hpp"
#include "verify.hpp"

namespace d1sync {
namespace {

constexpr size_t kDefaultMaxDifferences = 1000;
constexpr size_t kMaxMaxDifferences = 100000;

}  // namespace

Status Engine::beginVerify(const std::string& request, int64_t nowMs) {
  auto j = parseJson(request.empty() ? "{}" : request);
  if (j.is_discarded() || !j.is_object())
    return {ErrorCode::Config, "verify() takes an options object"};
  for (const auto& [k, v] : j.items()) {
    if (k != "table" && k != "tenant" && k != "maxDifferences")
      return {ErrorCode::Config, "verify(): unknown option '" + k + "'"};
  }
  if (phase_ == Phase::Failed) return fatal_;
  std::optional<std::string> table;
  if (j.contains("table") && !j["table"].is_null()) {
    if (!j["table"].is_string() || j["table"].get<std::string>().empty())
      return {ErrorCode::Config, "verify(): table must be a table name"};
    table = j["table"].get<std::string>();
  }
  if (j.contains("tenant") && !j["tenant"].is_null()) {
    const auto& t = j["tenant"];
    std::string literal = t.is_string()           ? quoteText(t.get<std::string>())
                          : t.is_number_integer() ? std::to_string(t.get<int64_t>())
                                                  : "";
    if (!options_.tenantColumn)
      return {ErrorCode::Config, "verify(): this replicator has no tenant"};
    if (literal != options_.tenantLiteral)
      return {ErrorCode::Config, "verify(): this replicator's tenant is " + options_.tenantLiteral +
                                     ", not " + t.dump() +
                                     " (it never reads another tenant's rows)"};
  }
  size_t maxDifferences = kDefaultMaxDifferences;
  if (j.contains("maxDifferences")) {
    const auto& m = j["maxDifferences"];
    if (!m.is_number_integer() || m.get<int64_t>() < 1 ||
        m.get<int64_t>() > static_cast<int64_t>(kMaxMaxDifferences))
      return {ErrorCode::Config, "verify(): maxDifferences must be an integer from 1 to " +
                                     std::to_string(kMaxMaxDifferences)};
    maxDifferences = static_cast<size_t>(m.get<int64_t>());
  }
  verify_ = std::make_unique<VerifyRun>(local_, options_.limits, random_.next(), maxDifferences);
  verify_->table = table;
  verify_->verifier.report.startedAt = nowMs;
  verifyDone_ = false;
  return {};
}

std::string Engine::verifyReport() {
  if (!verify_ || !verifyDone_) return "";
  std::string out = verify_->verifier.report.json();
  verify_.reset();
  verifyDone_ = false;
  return out;
}

void Engine::endVerify(ErrorCode code, const std::string& message) {
  VerifyReport& rep = verify_->verifier.report;
  if (code != ErrorCode::None) {
    rep.errorCode = codeName(code);
    rep.error = message;
  }
  rep.ms = now_ - rep.startedAt;
  rep.appliedSeq = state_.appliedSeq;
  verifyDone_ = true;
  if (code == ErrorCode::None) {
    state_.counters.lastVerifiedAt = now_;
    state_.counters.lastVerifyEqual = rep.equal();
    state_.counters.lastVerifyDifferences = rep.differences();
    for (const auto& t : rep.tables)
      for (const auto& u : t.unresolved)
        state_.counters.lastVerifyDifferences +=
            std::max<int64_t>(1, std::abs(u.rowsLocal - u.rowsD1));
    persist();
  }
}

Step Engine::verifyStep(int64_t nowMs) {
  VerifyRun& run = *verify_;
  if (!run.prepared) {
    run.prepared = true;
    if (run.table && std::none_of(tables_.begin(), tables_.end(),
                                  [&](const Table& t) { return t.name == *run.table; })) {
      endVerify(ErrorCode::Config, "verify(): '" + *run.table + "' is not a replicated table");
      return Step{};
    }
    for (const auto& t : tables_) {
      if (run.table && t.name != *run.table) continue;
      std::optional<std::string> tenant;
      if (shape_.tenant) tenant = quoteIdent(shape_.tenant->column) + "=" + shape_.tenant->literal;
      ErrorCode code = ErrorCode::None;
      if (auto e = run.verifier.addTable(t, tenant, code); !e.empty()) {
        endVerify(code, code == ErrorCode::D1Limit ? "verify(): " + e
                                                   : "verify(): reading " + t.name + ": " + e);
        return Step{};
      }
    }
  }
  std::vector<std::string> statements, reads;
  if (auto e = run.verifier.nextBatch(statements, reads); !e.empty()) {
    endVerify(ErrorCode::Internal, "verify(): reading the local database: " + e);
    return Step{};
  }
  if (statements.empty()) {
    endVerify(ErrorCode::None, "");
    return Step{};
  }
  flightInfo_.startMs = nowMs;
  // Through a sync endpoint the reads go as names and literals; it checks them, adds the
  // tenant and answers only while this incarnation owns the partition.
  if (options_.remote)
    return sendRemote(Flight::Verify, sync_protocol::kRead,
                      readRequest(state_.sourceId, fenceId_.incarnation, reads));
  statements.insert(statements.begin(),
                    guardStatement(fenceId_, state_.epoch, state_.appliedSeq, state_.lastBatch));
  return send(Flight::Verify, std::move(statements));
}

void Engine::onVerify(const BatchResult& r, int64_t nowMs) {
  if (!verify_) return;
  Verifier& v = verify_->verifier;
  if (r.ok) {
    backoff_.reset();
    unknownFailures_ = 0;
    v.report.rowsReadD1 += r.rowsRead;
    // The direct batch's first result is the guard's.
    const size_t skip = options_.remote ? 0 : 1;
    if (r.results.size() < skip) {
      endVerify(ErrorCode::Internal, "verify(): D1 answered no results");
      return;
    }
    std::vector<Rows> results(r.results.begin() + skip, r.results.end());
    if (auto e = v.onResults(results); !e.empty()) endVerify(ErrorCode::Internal, "verify(): " + e);
    return;
  }
  const BatchFailure& f = r.failure;
  switch (f.kind) {
    case D1Failure::Fenced:
      // As for a job: the probe tells a moved fence from anything else.
      v.requeue();
      recordError(ErrorCode::Fenced, f.message);
      needProbe_ = true;
      return;
    case D1Failure::Transient:
      v.requeue();
      retryAfter(f.kind, f.message, nowMs);
      return;
    case D1Failure::Refused:
      retryAfter(f.kind, f.message, nowMs);
      endVerify(ErrorCode::Config, f.message);
      return;
    case D1Failure::Limit:
      if (v.shrink()) return;
      endVerify(ErrorCode::D1Limit, "verify(): D1 refused a fingerprint statement: " + f.message);
      return;
    case D1Failure::Schema:
      endVerify(ErrorCode::Schema,
                "verify(): D1 does not have the table or columns it should: " + f.message);
      return;
    default:
      endVerify(ErrorCode::Internal, "verify(): D1 refused a fingerprint statement: " + f.message);
      return;
  }
}

Status Engine::repair(const std::string& report, int64_t nowMs) {
  if (phase_ == Phase::Failed) return fatal_;
  std::map<std::string, std::vector<std::string>> keys;
  if (auto e = parseRepairKeys(report, keys); !e.empty()) return {ErrorCode::Config, e};
  auto master = local_.exec(masterQuery());
  if (!master.ok)
    return {ErrorCode::Internal, "repair(): reading the local schema: " + master.error};
  const auto entries = parseMaster(master.rows);
  // Every key checked before any is queued; then multi-row inserts under the local cap.
  std::vector<std::string> tuples;
  for (const auto& [name, list] : keys) {
    if (list.empty()) continue;
    const MasterEntry* entry = nullptr;
    for (const auto& e : entries)
      if (e.type == "table" && e.name == name) entry = &e;
    if (!entry || !state_.tables.count(name))
      return {ErrorCode::Config, "repair(): '" + name + "' is not a replicated table"};
    std::string error;
    auto t = readTable(local_, *entry, entries, error);
    if (!t) return {ErrorCode::Internal, "repair(): reading " + name + ": " + error};
    for (const auto& key : list) {
      // Only literals (the outbox reader checks each key again before it reads a row by it).
      if (splitKeyLiteral(key).size() != t->keySize())
        return {ErrorCode::Config, "repair(): '" + key + "' is not a key of " + name};
      // 'V': sent as the row stands, written or deleted; unlike a captured 'U' whose row is
      // gone, not taken for a rowid renumbered by VACUUM (engine_rowid.cpp).
      tuples.push_back("(" + quoteText(name) + ",'V'," + quoteText(key) + "," +
                       std::to_string(nowMs) + ")");
    }
  }
  const std::string head = "INSERT INTO _d1sync_log(tbl, op, key, at_ms) VALUES ";
  std::string sql;
  for (size_t i = 0; i <= tuples.size(); ++i) {
    const bool last = i == tuples.size();
    if (!sql.empty() &&
        (last || sql.size() + tuples[i].size() + 1 > options_.limits.localStatementBytes)) {
      auto w = local_.exec(sql);
      if (!w.ok) return {ErrorCode::Internal, "repair(): queuing the keys: " + w.error};
      sql.clear();
    }
    if (!last) sql += (sql.empty() ? head : ",") + tuples[i];
  }
  return {};
}

}  // namespace d1sync
