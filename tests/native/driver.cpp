#include "driver.hpp"

#include <chrono>
#include <cstring>
#include <map>
#include <vector>

#include "sql_text.hpp"

namespace d1sync::native {

Driver::Driver(SqliteLocal& local, Target& target, Options options, LocalDb* engineDb)
    : local_(local),
      engineDb_(engineDb ? *engineDb : local),
      target_(target),
      options_(std::move(options)),
      now_(std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count()) {
  restart();
}

void Driver::restart() {
  if (engine_) {
    aheadPrepared_ += engine_->lookAheadPrepared();
    aheadUsed_ += engine_->lookAheadUsed();
  }
  engine_ = std::make_unique<Engine>(engineDb_, options_);
  // A host that crashed mid-transaction never committed it.
  sqlite3_exec(local_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

Step Driver::step() {
  local_.run("BEGIN");
  Step s = engine_->next(now_);
  local_.run("COMMIT");
  return s;
}

void Driver::arrive(Flight& f) {
  if (f.arrived) return;
  f.arrived = true;
  ++requests;
  f.result = target_.apply(f.batch);
}

// The batch goes out; while it is in flight the engine prepares the next one, as a JS host
// lets it (replicator.js), and may send it too; the application may write meanwhile.
void Driver::fly(const Step& s, size_t& budget, bool dropAnswers) {
  std::deque<Flight> flights;
  flights.push_back({s.batch});
  --budget;
  while (!flights.empty()) {
    if (inFlight) inFlight(false);
    if (s.lookAhead) {
      local_.run("BEGIN");
      engine_->lookAhead(now_);
      std::optional<Batch> b;
      if (budget > 0) b = engine_->sendAhead(now_);
      local_.run("COMMIT");
      if (b) {
        --budget;
        ++sentAhead;
        flights.push_back({std::move(*b)});
        if (overtakes && !flights.front().arrived && overtakes()) arrive(flights.back());
        // The batch after it, read while both are out.
        local_.run("BEGIN");
        engine_->lookAhead(now_);
        local_.run("COMMIT");
      }
    }
    if (inFlight) inFlight(true);
    arrive(flights.front());
    now_ += 1;
    if (dropAnswers && budget == 0) {
      for (auto& f : flights) arrive(f);
      return;
    }
    Flight f = std::move(flights.front());
    flights.pop_front();
    local_.run("BEGIN");
    engine_->complete(f.result, now_);
    local_.run("COMMIT");
  }
}

Step Driver::runRequests(size_t n, bool dropLastAnswer) {
  Step s;
  size_t budget = n;
  while (budget > 0) {
    s = step();
    if (s.kind == Step::Wait) {
      now_ = s.waitUntilMs;
      continue;
    }
    if (s.kind != Step::Send) return s;
    fly(s, budget, dropLastAnswer);
  }
  return s;
}

Step Driver::run(size_t maxRequests) {
  Step s;
  size_t budget = maxRequests;
  while (budget > 0) {
    s = step();
    if (s.kind == Step::Wait) {
      now_ = s.waitUntilMs;
      continue;
    }
    if (s.kind != Step::Send) return s;
    fly(s, budget, false);
  }
  s.kind = Step::Failed;
  s.code = ErrorCode::Internal;
  s.message = "driver: request budget exhausted";
  return s;
}

namespace {

struct Value {
  int type = SQLITE_NULL;
  std::string bytes;
  double real = 0;
  bool operator==(const Value& o) const {
    if (type != o.type) return false;
    if (type == SQLITE_FLOAT) return real == o.real || (real != real && o.real != o.real);
    return bytes == o.bytes;
  }
};

std::string show(const Value& v) {
  static const char* const kTypes[] = {"", "integer", "real", "text", "blob", "null"};
  std::string s = kTypes[v.type];
  if (v.type == SQLITE_FLOAT) return s + " " + std::to_string(v.real);
  if (v.type == SQLITE_NULL) return s;
  return s + " (" + std::to_string(v.bytes.size()) + " bytes) " + v.bytes.substr(0, 40);
}

using Row = std::vector<Value>;

bool readAll(sqlite3* db, const std::string& sql, std::vector<Row>& out, std::string& err) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    err = sqlite3_errmsg(db);
    return false;
  }
  int n = sqlite3_column_count(st);
  while (sqlite3_step(st) == SQLITE_ROW) {
    Row r;
    for (int c = 0; c < n; ++c) {
      Value v;
      v.type = sqlite3_column_type(st, c);
      if (v.type == SQLITE_FLOAT) {
        v.real = sqlite3_column_double(st, c);
      } else if (v.type != SQLITE_NULL) {
        const void* p = v.type == SQLITE_BLOB
                            ? sqlite3_column_blob(st, c)
                            : static_cast<const void*>(sqlite3_column_text(st, c));
        int len = sqlite3_column_bytes(st, c);
        v.bytes.assign(static_cast<const char*>(p ? p : ""), static_cast<size_t>(len));
      }
      r.push_back(std::move(v));
    }
    out.push_back(std::move(r));
  }
  sqlite3_finalize(st);
  return true;
}

std::vector<std::string> columnsOf(sqlite3* db, const std::string& table) {
  std::vector<Row> rows;
  std::string err;
  readAll(db, "SELECT name FROM pragma_table_info(" + quoteText(table) + ")", rows, err);
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r[0].bytes);
  return out;
}

}  // namespace

std::string diffTable(sqlite3* local, sqlite3* d1, const std::string& table,
                      const std::string& tenantWhere, const std::string& rowidColumn) {
  auto cols = columnsOf(local, table);
  if (cols.empty()) return "local table " + table + " has no columns";
  std::string list;
  for (const auto& c : cols) list += (list.empty() ? "" : ",") + quoteIdent(c);
  std::string localSql = std::string("SELECT ") + (rowidColumn.empty() ? "" : "_rowid_,") + list +
                         " FROM " + quoteIdent(table);
  std::string d1Sql = std::string("SELECT ") +
                      (rowidColumn.empty() ? "" : quoteIdent(rowidColumn) + ",") + list + " FROM " +
                      quoteIdent(table) + (tenantWhere.empty() ? "" : " WHERE " + tenantWhere);
  std::vector<Row> a, b;
  std::string err;
  if (!readAll(local, localSql, a, err)) return "local: " + err;
  if (!readAll(d1, d1Sql, b, err)) return "d1: " + err;
  // Order both sides by the full row content so the comparison ignores physical order.
  auto key = [](const Row& r) {
    std::string k;
    for (const auto& v : r) {
      k += std::to_string(v.type) + ":";
      if (v.type == SQLITE_FLOAT) {
        char buf[32];
        std::memcpy(buf, &v.real, sizeof v.real);
        k.append(buf, sizeof v.real);
      } else {
        k += std::to_string(v.bytes.size()) + ":" + v.bytes;
      }
    }
    return k;
  };
  std::map<std::string, int> ca, cb;
  std::map<std::string, const Row*> rows;
  for (const auto& r : a) {
    ++ca[key(r)];
    rows[key(r)] = &r;
  }
  for (const auto& r : b) {
    ++cb[key(r)];
    rows[key(r)] = &r;
  }
  if (a.size() != b.size())
    return table + ": local has " + std::to_string(a.size()) + " rows, D1 has " +
           std::to_string(b.size());
  for (const auto& [k, n] : ca) {
    if (cb[k] != n) {
      std::string desc;
      for (const auto& v : *rows[k]) desc += show(v) + " | ";
      return table + ": local row not in D1 (or duplicated): " + desc;
    }
  }
  return {};
}

}  // namespace d1sync::native
