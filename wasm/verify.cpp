#include "verify.hpp"
#include "json_fields.hpp"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "render.hpp"
#include "sql_text.hpp"

namespace d1sync {
namespace {

constexpr int64_t kMinRangeRows = 1000;
constexpr int64_t kTopRanges = 100;
constexpr int kSplitWays = 16;
constexpr size_t kBatchBytes = 2000000;
constexpr int64_t kBatchRows = 200000;  // about 1 s of D1 time
constexpr size_t kFetchKeys = 100;
constexpr size_t kKeyInline = 1 << 20;    // keys are rendered whole
constexpr size_t kReportInline = 4096;    // values over this are reported as ~t<bytes>
constexpr size_t kMaxTasksPerBatch = 20;  // also D1's statements per batch, less the guard

int64_t toInt(const std::string& s) {
  return std::strtoll(s.c_str(), nullptr, 10);
}

std::string joinedKeyLiteral(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys)
    out += (out.empty() ? "" : "||','||") + literalExpr(k, kKeyInline, false);
  return out;
}

// The key as a value to compare with the key expression: a literal, or a row value.
std::string boundOf(size_t keyCount, const std::string& keyLiteral) {
  return keyCount == 1 ? keyLiteral : "'('||" + keyLiteral + "||')'";
}

std::string keyList(const std::vector<std::string>& keys) {
  if (keys.size() == 1) return keys[0];
  std::string out = "(";
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? "," : "") + keys[i];
  return out + ")";
}

std::string tupleExpr(const std::vector<std::string>& cols) {
  std::string fmt = "(", args;
  for (size_t i = 0; i < cols.size(); ++i) {
    fmt += i ? ",%s" : "%s";
    args += "," + literalExpr(cols[i], kReportInline, true);
  }
  return "printf('" + fmt + ")'" + args + ")";
}

std::string whereOf(const FpSource& src, const FpRange& r) {
  std::vector<std::string> where = src.filters;
  const std::string kv = keyList(src.keys);
  if (r.lo) where.push_back(kv + ">=" + *r.lo);
  if (r.hi) where.push_back(kv + "<" + *r.hi);
  std::string out;
  for (const auto& w : where) out += (out.empty() ? " WHERE " : " AND ") + w;
  return out;
}

// Every `step`-th key of the range (not the first), as bounds.
std::string quantileQuery(const FpSource& src, const std::string& bound, const FpRange& r,
                          int64_t step) {
  std::string order;
  for (const auto& k : src.keys) order += (order.empty() ? "" : ",") + k;
  return "SELECT b FROM (SELECT " + bound + " AS b,row_number() OVER (ORDER BY " + order +
         ") AS rn FROM " + src.table + " AS _t" + whereOf(src, r) + ") WHERE rn%" +
         std::to_string(step) + "=1 AND rn>1";
}

nlohmann::json optionalText(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

bool VerifyReport::equal() const {
  if (!error.empty()) return false;
  for (const auto& t : tables)
    if (!t.differences.empty() || !t.unresolved.empty() || t.rowsLocal != t.rowsD1) return false;
  return true;
}

int64_t VerifyReport::differences() const {
  int64_t n = 0;
  for (const auto& t : tables) n += static_cast<int64_t>(t.differences.size());
  return n;
}

std::string VerifyReport::json() const {
  nlohmann::json j;
  j["equal"] = equal();
  j["tables"] = nlohmann::json::array();
  for (const auto& t : tables) {
    nlohmann::json tj{{"table", t.table},
                      {"rowsLocal", t.rowsLocal},
                      {"rowsD1", t.rowsD1},
                      {"ranges", t.ranges},
                      {"differences", nlohmann::json::array()},
                      {"unresolved", nlohmann::json::array()}};
    for (const auto& d : t.differences)
      tj["differences"].push_back(
          {{"key", d.key}, {"local", optionalText(d.local)}, {"d1", optionalText(d.d1)}});
    for (const auto& u : t.unresolved)
      tj["unresolved"].push_back({{"from", optionalText(u.lo)},
                                  {"to", optionalText(u.hi)},
                                  {"rowsLocal", u.rowsLocal},
                                  {"rowsD1", u.rowsD1}});
    j["tables"].push_back(std::move(tj));
  }
  j["rowsReadLocal"] = rowsReadLocal;
  j["rowsReadD1"] = rowsReadD1;
  j["batches"] = batches;
  j["statements"] = statements;
  j["ms"] = ms;
  j["appliedSeq"] = appliedSeq;
  if (!error.empty()) {
    j["errorCode"] = errorCode;
    j["error"] = error;
  }
  return j.dump();
}

std::string parseRepairKeys(const std::string& json,
                            std::map<std::string, std::vector<std::string>>& out) {
  auto j = parseJson(json);
  if (j.is_discarded() || !j.is_object() || !j.contains("tables") || !j["tables"].is_array())
    return "repair() needs the report verify() returned";
  for (const auto& t : j["tables"]) {
    if (!t.is_object() || !t.contains("table") || !t["table"].is_string() ||
        !t.contains("differences") || !t["differences"].is_array())
      return "repair(): a table of the report has no table name or differences";
    auto& keys = out[t["table"].get<std::string>()];
    for (const auto& d : t["differences"]) {
      if (!d.is_object() || !d.contains("key") || !d["key"].is_string())
        return "repair(): a difference of " + t["table"].get<std::string>() + " has no key";
      keys.push_back(d["key"].get<std::string>());
    }
  }
  return "";
}

FpParams verifyParams(const VerifyTable& t) {
  FpParams prm = makeFpParams(t.columns.size(), t.seed);
  prm.inlineBlocks = t.inlineBlocks;
  return prm;
}

std::string verifyD1Statement(const VerifyTable& t, const std::optional<std::string>& tenant,
                              const VerifyRead& read) {
  FpSource src;
  src.table = quoteIdent(t.table);
  for (const auto& k : t.keys) src.keys.push_back("_t." + quoteIdent(k));
  for (const auto& c : t.columns) src.columns.push_back("_t." + quoteIdent(c));
  src.integerKey = t.integerKey;
  if (tenant) src.filters.push_back(*tenant);
  src.keyLiteral = joinedKeyLiteral(src.keys);
  const FpParams prm = verifyParams(t);
  switch (read.kind) {
    case VerifyRead::Range:
      return fpRangeStatement(src, prm, read.range);
    case VerifyRead::List:
      return fpRowsStatement(src, prm, read.range);
    case VerifyRead::Split:
      return quantileQuery(src, boundOf(src.keys.size(), src.keyLiteral), read.range,
                           std::max<int64_t>(1, read.step));
    case VerifyRead::Fetch: {
      std::string values;
      for (const auto& k : read.keys) values += (values.empty() ? "(" : ",(") + k + ")";
      std::string where = whereOf(src, {});
      where +=
          (where.empty() ? " WHERE " : " AND ") + keyList(src.keys) + " IN (VALUES " + values + ")";
      return "SELECT " + src.keyLiteral + "," + tupleExpr(src.columns) + " FROM " + src.table +
             " AS _t" + where;
    }
  }
  return "";
}

std::string verifyReadJson(const VerifyTable& t, const VerifyRead& read) {
  static const char* kinds[] = {"range", "list", "split", "fetch"};
  nlohmann::json j = {{"kind", kinds[read.kind]},
                      {"table", t.table},
                      {"keys", t.keys},
                      {"columns", t.columns},
                      {"integerKey", t.integerKey},
                      {"seed", std::to_string(t.seed)},
                      {"inlineBlocks", t.inlineBlocks},
                      {"from", optionalText(read.range.lo)},
                      {"to", optionalText(read.range.hi)}};
  if (read.kind == VerifyRead::Split) j["step"] = read.step;
  if (read.kind == VerifyRead::Fetch) j["fetch"] = read.keys;
  return j.dump();
}

Verifier::Verifier(LocalDb& local, const Limits& limits, uint64_t seed, size_t maxDifferences)
    : local_(local),
      limits_(limits),
      seed_(seed),
      maxDifferences_(maxDifferences),
      maxStatements_(
          std::min<size_t>(kMaxTasksPerBatch, std::max(1, limits.maxStatementsPerBatch - 1))) {}

std::string Verifier::localExec(const std::string& sql, Rows& out) {
  auto r = local_.exec(sql);
  if (!r.ok) return r.error;
  out = std::move(r.rows);
  return "";
}

std::string Verifier::addTable(const Table& t, const std::optional<std::string>& tenant,
                               ErrorCode& code) {
  code = ErrorCode::Internal;
  TableSpec s;
  s.table = t;
  const bool rowid = t.keyKind == KeyKind::Rowid;
  s.local.table = quoteIdent(t.name);
  s.local.keys = t.keyExprs("_t");
  s.d1.table = t.name;
  s.d1.keys = t.keyColumnNames();
  if (rowid) {
    s.local.columns = s.local.keys;
    s.d1.columns = s.d1.keys;
  }
  for (size_t i : t.tupleOrder()) {
    s.local.columns.push_back("_t." + quoteIdent(t.columns[i].name));
    s.d1.columns.push_back(t.columns[i].name);
  }
  // A rowid, or an INTEGER PRIMARY KEY (an alias of it), holds integers only; an INTEGER key
  // declared DESC is no alias and may hold text.
  s.local.integerKey = s.d1.integerKey = rowid || t.rowidAlias;
  s.tenant = tenant;
  s.local.keyLiteral = joinedKeyLiteral(s.local.keys);
  s.localRow = tupleExpr(s.local.columns);
  s.d1.seed = seed_ + 0x9e3779b97f4a7c15ULL * (specs_.size() + 1);
  // Rows longer than one block (288 digits, about 100 bytes of values) fold faster inline
  // than in the per-row loop: sized by the first rows' bytes (about 2.9 digits a byte and a
  // dozen per value for tag and length).
  std::string bytesExpr;
  for (const auto& c : s.local.columns)
    bytesExpr += (bytesExpr.empty() ? "" : "+") + ("ifnull(length(CAST(" + c + " AS BLOB)),0)");
  Rows sample;
  if (auto e = localExec("SELECT avg(_n) FROM (SELECT " + bytesExpr + " AS _n FROM " +
                             s.local.table + " AS _t LIMIT 1000)",
                         sample);
      !e.empty())
    return e;
  const double avgBytes =
      sample.size() && !sample.isNull(0, 0) ? std::strtod(sample.at(0, 0).c_str(), nullptr) : 0;
  const double digits = 12.0 * s.local.columns.size() + 2.9 * avgBytes;
  s.d1.inlineBlocks = std::clamp(static_cast<int>(digits / 288) + 1, 1, 4);
  s.prm = verifyParams(s.d1);
  const size_t bytes = verifyD1Statement(s.d1, tenant, {}).size();
  if (bytes > limits_.maxStatementBytes) code = ErrorCode::D1Limit;
  if (bytes > limits_.maxStatementBytes)
    return t.name + ": its fingerprint statement is " + std::to_string(bytes) +
           " bytes, over D1's " + std::to_string(limits_.maxStatementBytes) + " (" +
           std::to_string(s.local.columns.size()) +
           " columns; tables of more than about 60 columns cannot be verified yet)";

  Rows count;
  if (auto e = localExec("SELECT count(*) FROM " + s.local.table, count); !e.empty()) return e;
  const int64_t n = count.size() ? toInt(count.at(0, 0)) : 0;
  const int64_t step = std::max(kMinRangeRows, (n + kTopRanges - 1) / kTopRanges);
  Rows bounds;
  if (n > step) {
    const std::string bound = boundOf(s.local.keys.size(), s.local.keyLiteral);
    if (auto e = localExec(quantileQuery(s.local, bound, {}, step), bounds); !e.empty()) return e;
  }
  const size_t index = specs_.size();
  specs_.push_back(std::move(s));
  report.tables.emplace_back();
  report.tables.back().table = t.name;
  std::optional<std::string> lo;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    Task task;
    task.table = index;
    task.top = true;
    task.range.lo = lo;
    if (i < bounds.size()) task.range.hi = bounds.at(i, 0);
    task.rowsHint = step;
    lo = task.range.hi;
    queue_.push_back(std::move(task));
  }
  return "";
}

bool Verifier::full() const {
  if (flight_.size() >= maxStatements_) return true;
  int64_t rows = 0;
  for (const auto& t : flight_) rows += t.rowsHint;
  return rows >= kBatchRows;
}

std::string Verifier::prepare(Task& t, std::string& statement, std::string& read) {
  TableSpec& s = specs_[t.table];
  VerifyRead r;
  r.range = t.range;
  Rows rows;
  switch (t.kind) {
    case Task::Range:
      if (auto e = localExec(fpRangeStatement(s.local, s.prm, t.range), rows); !e.empty()) return e;
      t.n = rows.size() ? toInt(rows.at(0, 0)) : 0;
      t.f1 = rows.size() ? rows.at(0, 1) : "";
      t.f2 = rows.size() ? rows.at(0, 2) : "";
      report.rowsReadLocal += t.n;
      r.kind = VerifyRead::Range;
      break;
    case Task::List:
      if (auto e = localExec(fpRowsStatement(s.local, s.prm, t.range), rows); !e.empty()) return e;
      t.rows.clear();
      for (size_t i = 0; i < rows.size(); ++i)
        t.rows[rows.at(i, 1)] = {rows.at(i, 0), rows.at(i, 2)};
      report.rowsReadLocal += static_cast<int64_t>(rows.size());
      r.kind = VerifyRead::List;
      break;
    case Task::SplitD1:
      r.kind = VerifyRead::Split;
      r.step = std::max<int64_t>(1, (t.rowsHint + kSplitWays - 1) / kSplitWays);
      break;
    case Task::Fetch:
      r.kind = VerifyRead::Fetch;
      for (size_t i : t.diffs) r.keys.push_back(report.tables[t.table].differences[i].key);
      break;
  }
  statement = verifyD1Statement(s.d1, s.tenant, r);
  read = verifyReadJson(s.d1, r);
  return "";
}

void Verifier::queueFetches() {
  std::map<size_t, std::vector<size_t>> byTable;
  for (auto [table, diff] : unfetched_) byTable[table].push_back(diff);
  unfetched_.clear();
  for (auto& [table, diffs] : byTable) {
    for (size_t i = 0; i < diffs.size(); i += kFetchKeys) {
      Task t;
      t.kind = Task::Fetch;
      t.table = table;
      t.diffs.assign(diffs.begin() + i, diffs.begin() + std::min(diffs.size(), i + kFetchKeys));
      t.rowsHint = static_cast<int64_t>(t.diffs.size());
      queue_.push_back(std::move(t));
    }
  }
}

std::string Verifier::nextBatch(std::vector<std::string>& statements,
                                std::vector<std::string>& reads) {
  statements.clear();
  reads.clear();
  queueFetches();
  size_t bytes = 0;
  while (!queue_.empty() && (flight_.empty() || (!full() && bytes < kBatchBytes))) {
    Task t = std::move(queue_.front());
    queue_.pop_front();
    std::string statement, read;
    if (auto e = prepare(t, statement, read); !e.empty()) {
      queue_.push_front(std::move(t));
      requeue();
      statements.clear();
      reads.clear();
      return e;
    }
    bytes += statement.size();
    statements.push_back(std::move(statement));
    reads.push_back(std::move(read));
    flight_.push_back(std::move(t));
  }
  if (!statements.empty()) {
    ++report.batches;
    report.statements += static_cast<int64_t>(statements.size());
  }
  return "";
}

void Verifier::requeue() {
  for (auto it = flight_.rbegin(); it != flight_.rend(); ++it) queue_.push_front(std::move(*it));
  flight_.clear();
}

bool Verifier::shrink() {
  if (maxStatements_ <= 1) return false;
  maxStatements_ = std::max<size_t>(1, maxStatements_ / 2);
  requeue();
  return true;
}

std::string Verifier::onResults(const std::vector<Rows>& results) {
  if (results.size() != flight_.size())
    return "D1 answered " + std::to_string(results.size()) + " results for " +
           std::to_string(flight_.size()) + " verify statements";
  std::vector<Task> tasks = std::move(flight_);
  flight_.clear();
  for (size_t i = 0; i < tasks.size(); ++i) {
    std::string e;
    switch (tasks[i].kind) {
      case Task::Range:
        e = onRange(tasks[i], results[i]);
        break;
      case Task::List:
        e = onList(tasks[i], results[i]);
        break;
      case Task::SplitD1:
        e = onSplit(tasks[i], results[i]);
        break;
      case Task::Fetch:
        onFetch(tasks[i], results[i]);
        break;
    }
    if (!e.empty()) return e;
  }
  return "";
}

std::string Verifier::onRange(Task& t, const Rows& r) {
  if (r.size() != 1 || r.columns != 3)
    return "D1 answered a range fingerprint of " + std::to_string(r.size()) + " rows";
  VerifyTableReport& tr = report.tables[t.table];
  const int64_t nD1 = toInt(r.at(0, 0));
  if (t.top) {
    tr.rowsLocal += t.n;
    tr.rowsD1 += nD1;
  }
  ++tr.ranges;
  if (nD1 == t.n && r.at(0, 1) == t.f1 && r.at(0, 2) == t.f2) return "";
  if (report.differences() >= static_cast<int64_t>(maxDifferences_)) {
    tr.unresolved.push_back({t.range.lo, t.range.hi, t.n, nD1});
    return "";
  }
  Task next;
  next.table = t.table;
  next.range = t.range;
  if (std::max(nD1, t.n) <= kListRows) {
    next.kind = Task::List;
    next.rowsHint = std::max(nD1, t.n);
    queue_.push_front(std::move(next));
    return "";
  }
  if (t.n >= nD1) return splitLocal(t, t.n);
  next.kind = Task::SplitD1;
  next.rowsHint = nD1;
  queue_.push_front(std::move(next));
  return "";
}

std::string Verifier::splitLocal(const Task& t, int64_t rows) {
  TableSpec& s = specs_[t.table];
  const int64_t step = std::max<int64_t>(1, (rows + kSplitWays - 1) / kSplitWays);
  Rows bounds;
  const std::string bound = boundOf(s.local.keys.size(), s.local.keyLiteral);
  if (auto e = localExec(quantileQuery(s.local, bound, t.range, step), bounds); !e.empty())
    return e;
  queueSubRanges(t, bounds, step);
  return "";
}

std::string Verifier::onSplit(Task& t, const Rows& r) {
  queueSubRanges(t, r, std::max<int64_t>(1, (t.rowsHint + kSplitWays - 1) / kSplitWays));
  return "";
}

void Verifier::queueSubRanges(const Task& parent, const Rows& bounds, int64_t rowsHint) {
  std::optional<std::string> lo = parent.range.lo;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    Task sub;
    sub.table = parent.table;
    sub.range.lo = lo;
    sub.range.hi = i < bounds.size() ? std::optional(bounds.at(i, 0)) : parent.range.hi;
    sub.rowsHint = rowsHint;
    lo = sub.range.hi;
    queue_.push_front(std::move(sub));
  }
}

std::string Verifier::localTuple(const TableSpec& s, const std::string& keyLiteral,
                                 std::optional<std::string>& out) {
  Rows r;
  auto e = localExec("SELECT " + s.localRow + " FROM " + s.local.table + " AS _t WHERE " +
                         keyList(s.local.keys) + "=" + s.table.keyValue(keyLiteral),
                     r);
  if (!e.empty()) return e;
  if (r.size()) out = r.at(0, 0);
  return "";
}

std::string Verifier::onList(Task& t, const Rows& r) {
  if (r.size() && r.columns != 3)
    return "D1 answered a row listing of " + std::to_string(r.columns) + " columns";
  VerifyTableReport& tr = report.tables[t.table];
  const TableSpec& s = specs_[t.table];
  auto add = [&](const std::string& key, bool local, bool d1) {
    if (report.differences() >= static_cast<int64_t>(maxDifferences_)) return false;
    VerifyDifference d;
    d.key = key;
    if (local) {
      if (auto e = localTuple(s, key, d.local); !e.empty()) d.local = "(unreadable: " + e + ")";
    }
    tr.differences.push_back(std::move(d));
    if (d1) unfetched_.push_back({t.table, tr.differences.size() - 1});
    return true;
  };
  std::map<std::string, std::pair<std::string, std::string>> remote;
  for (size_t i = 0; i < r.size(); ++i) remote[r.at(i, 1)] = {r.at(i, 0), r.at(i, 2)};
  auto a = t.rows.begin();
  auto b = remote.begin();
  bool room = true;
  while (room && (a != t.rows.end() || b != remote.end())) {
    if (b == remote.end() || (a != t.rows.end() && a->first < b->first)) {
      room = add(a->second.first, true, false);
      ++a;
    } else if (a == t.rows.end() || b->first < a->first) {
      room = add(b->second.first, false, true);
      ++b;
    } else {
      if (a->second.second != b->second.second) room = add(a->second.first, true, true);
      ++a;
      ++b;
    }
  }
  if (!room)
    tr.unresolved.push_back({t.range.lo, t.range.hi, static_cast<int64_t>(t.rows.size()),
                             static_cast<int64_t>(r.size())});
  return "";
}

void Verifier::onFetch(Task& t, const Rows& r) {
  auto& diffs = report.tables[t.table].differences;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < r.size() && r.columns == 2; ++i) found[r.at(i, 0)] = r.at(i, 1);
  for (size_t i : t.diffs) {
    auto it = found.find(diffs[i].key);
    if (it != found.end()) diffs[i].d1 = it->second;
  }
}

}  // namespace d1sync
