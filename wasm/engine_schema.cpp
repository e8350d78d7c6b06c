// Following the local schema: new tables, dropped tables and ADD COLUMN live; anything else
// rebuilds the D1 table through a shadow copy so readers never see it half-filled.
#include <algorithm>

#include "capture.hpp"
#include "engine.hpp"
#include "sql_text.hpp"

namespace d1sync {

namespace {

// True when `after` is `before` with column definitions appended, which is exactly how
// ALTER TABLE ADD COLUMN rewrites sqlite_master.sql. A table rebuilt any other way (even
// with the same column names) differs elsewhere in its text.
bool onlyAddsColumns(const std::string& before, const std::string& after, const Table& now) {
  auto close = [](const std::string& sql) {
    auto tk = tokenize(sql);
    size_t open = 0;
    while (open < tk.size() && !tk[open].isPunct('(')) ++open;
    size_t c = matchParen(tk, open);
    return c < tk.size() ? tk[c].begin : std::string::npos;
  };
  size_t b = close(before), a = close(after);
  if (b == std::string::npos || a == std::string::npos || a <= b) return false;
  if (after.compare(0, b, before, 0, b) != 0 || after.substr(a) != before.substr(b)) return false;
  auto added = tokenize(std::string_view(after).substr(b, a - b));
  if (added.empty() || !added[0].isPunct(',')) return false;
  for (const auto& c : now.columns)
    if (c.hidden == 3 && after.find(c.name, b) < a) return false;  // STORED cannot be added
  return true;
}

// The index a CREATE INDEX statement of ours names ("CREATE [UNIQUE] INDEX IF NOT EXISTS x").
std::string indexName(const std::string& createIndex) {
  auto tk = tokenize(createIndex);
  for (size_t i = 0; i + 1 < tk.size(); ++i)
    if (tk[i].is("EXISTS")) return identName(tk[i + 1]);
  return {};
}

// Parents before children, so strict mode inserts in an order foreign keys accept.
void orderByParents(std::vector<Table>& tables) {
  std::vector<Table> out;
  std::vector<bool> done(tables.size(), false);
  for (size_t round = 0; round < tables.size() && out.size() < tables.size(); ++round) {
    for (size_t i = 0; i < tables.size(); ++i) {
      if (done[i]) continue;
      bool ready = true;
      for (const auto& p : tables[i].parents)
        for (size_t j = 0; j < tables.size(); ++j)
          if (!done[j] && j != i && equalsNoCase(tables[j].name, p)) ready = false;
      if (ready || round + 1 == tables.size()) {
        done[i] = true;
        out.push_back(std::move(tables[i]));
      }
    }
  }
  tables = std::move(out);
}

}  // namespace

std::string Engine::shadowName(const std::string& table) {
  return "_d1sync_new_" + table;
}

TargetShape Engine::shapeOf(const Table& t, bool shadow) const {
  TargetShape s;
  s.table = shadow ? shadowName(t.name) : t.name;
  s.columns = d1Columns(t, D1Shape{shape_.mode, std::nullopt});
  s.keyColumns = t.keyColumnNames();
  if (shape_.tenant) {
    s.tenantColumn = shape_.tenant->column;
    s.tenantLiteral = shape_.tenant->literal;
  }
  return s;
}

bool Engine::installCapture(const Table& t, bool replace) {
  if (options_.snapshot) return true;  // nothing is captured: the database is not written
  std::string sql;
  if (replace)
    for (const auto& s : dropCaptureDdl(t.name)) sql += s + ";";
  std::vector<std::string> notes;
  for (const auto& s : captureDdl(t, notes)) sql += s + ";";
  for (const auto& n : notes) warn(n);
  auto r = local_.exec(sql);
  if (!r.ok) recordError(ErrorCode::Internal, "installing capture on " + t.name + ": " + r.error);
  return r.ok;
}

bool Engine::refreshSchema(int64_t nowMs) {
  (void)nowMs;
  auto m = local_.exec(masterQuery());
  if (!m.ok) {
    recordError(ErrorCode::Internal, "reading sqlite_master: " + m.error);
    return false;
  }
  auto entries = parseMaster(m.rows);
  std::vector<Table> next;
  if (!readLocalTables(entries, next)) return false;
  if (shape_.mode == SchemaMode::Strict) orderByParents(next);
  for (const auto& t : next)
    if (!followTable(t, entries)) return false;
  tables_ = std::move(next);
  if (!page_) applyResyncRequests();
  return true;
}

// The replicated tables as they are now; a table whose SQL and indexes did not change is not
// read again.
bool Engine::readLocalTables(const std::vector<MasterEntry>& entries, std::vector<Table>& next) {
  for (const auto& e : entries) {
    if (e.type != "table") continue;
    if (options_.tables && std::find(options_.tables->begin(), options_.tables->end(), e.name) ==
                               options_.tables->end())
      continue;
    std::string why = skipReason(e, entries);
    if (!why.empty()) {
      if (why.rfind("virtual", 0) == 0 || why.rfind("shadow", 0) == 0) {
        warn("skipped " + e.name + ": " + why);
      }
      continue;
    }
    const Table* cached = nullptr;
    for (const auto& t : tables_)
      if (t.name == e.name && t.sql == e.sql) cached = &t;
    if (cached) {
      // Index changes do not touch the table's SQL: read it again when an index entry changed.
      size_t indexes = 0;
      for (const auto& x : entries)
        if (x.type == "index" && x.tblName == e.name) ++indexes;
      size_t known = 0;
      for (const auto& ix : cached->indexes)
        if (ix.origin != "pk") ++known;
      if (indexes == known) {
        next.push_back(*cached);
        continue;
      }
    }
    std::string error;
    auto t = readTable(local_, e, entries, error);
    if (!t) {
      recordError(ErrorCode::Internal, error);
      return false;
    }
    std::string problem = shapeProblem(*t, shape_, options_.limits.maxColumns);
    if (!problem.empty()) {
      fail(ErrorCode::Config, problem);
      return false;
    }
    next.push_back(std::move(*t));
  }
  return true;
}

// Keeps one table's capture in place and decides what a change of its SQL means for D1.
bool Engine::followTable(const Table& t, const std::vector<MasterEntry>& entries) {
  const CaptureState capture = options_.snapshot ? CaptureState::Current : captureState(t, entries);
  auto it = state_.tables.find(t.name);
  if (capture == CaptureState::Missing && it != state_.tables.end() && !it->second.recopy &&
      (it->second.phase == TablePhase::Live || it->second.phase == TablePhase::Copy)) {
    // Writes made while the triggers were missing were not captured: the table is copied
    // again. Saved before the triggers return, since once they are back nothing shows they
    // were ever missing (a local write can land and still report failure).
    it->second.recopy = true;
    if (!persist()) {
      recordError(ErrorCode::Internal, "saving d1sync's state: " + lastLocalError_);
      return false;
    }
  }
  // Triggers an older d1sync wrote are replaced in this same local transaction, so no write
  // goes uncaptured in between.
  if (capture != CaptureState::Current && !installCapture(t, capture == CaptureState::Stale))
    return false;
  if (it == state_.tables.end()) {
    TableState ts;
    ts.sql = t.sql;
    state_.tables[t.name] = ts;
    return true;
  }
  TableState& ts = it->second;
  if (ts.sql != t.sql && !ts.sql.empty()) {
    bool sameKey = ts.key.empty() || ts.key == t.keyColumnNames();
    if (sameKey && onlyAddsColumns(ts.sql, t.sql, t)) {
      // ADD COLUMN: schemaPage() adds it to D1 and the copy/outbox carry on.
    } else if (shape_.tenant && sameKey) {
      ts.recopy = true;  // recopy this tenant's rows into the shared table
    } else if (shape_.tenant) {
      fail(ErrorCode::Schema, "table " + t.name +
                                  " changed its primary key; a D1 table shared with other "
                                  "tenants cannot follow");
      return false;
    } else {
      ts.phase = TablePhase::Create;
      ts.shadow = true;
      ts.resetCopy();
    }
  }
  ts.sql = t.sql;
  return true;
}

// Recopies asked for (resync(), a vanished row, an outbox gap, missing capture) start here,
// between pages.
void Engine::applyResyncRequests() {
  for (auto& [name, ts] : state_.tables) {
    if (!resyncAll_ && !resyncRequests_.count(name) && !ts.recopy) continue;
    ts.recopy = false;
    if (ts.phase == TablePhase::Live || ts.phase == TablePhase::Copy) {
      ts.phase = TablePhase::Copy;
      ts.resetCopy();
    }
  }
  resyncAll_ = false;
  resyncRequests_.clear();
}

std::optional<Engine::Page> Engine::schemaPage() {
  if (options_.remote) return remoteSchemaPage();
  Page page;
  page.kind = Page::Schema;
  std::vector<std::string> statements;
  auto stmt = [&](std::string sql) { statements.push_back(std::move(sql)); };
  for (const auto& t : tables_) {
    TableState& ts = state_.tables[t.name];
    if (ts.phase == TablePhase::Create) {
      std::string name = ts.shadow ? shadowName(t.name) : t.name;
      if (ts.shadow || ts.dropFirst) stmt("DROP TABLE IF EXISTS " + quoteIdent(name));
      stmt(createTableDdl(t, name, shape_));
      if (!ts.shadow)
        for (auto& s : createIndexDdl(t, name, shape_)) stmt(std::move(s));
      page.phases.emplace_back(t.name, TablePhase::Copy);
    } else if (ts.phase == TablePhase::Swap) {
      stmt("DROP TABLE IF EXISTS " + quoteIdent(t.name));
      stmt("ALTER TABLE " + quoteIdent(shadowName(t.name)) + " RENAME TO " + quoteIdent(t.name));
      for (auto& s : createIndexDdl(t, t.name, shape_)) stmt(std::move(s));
      page.phases.emplace_back(t.name, TablePhase::Live);
    } else {
      const size_t before = statements.size();
      if (!alterTable(t, ts, statements)) {
        // D1 holds columns the local table lacks: rebuild it to match.
        ts.phase = TablePhase::Create;
        ts.shadow = true;
        ts.resetCopy();
        return schemaPage();
      }
      if (statements.size() > before) page.phases.emplace_back(t.name, ts.phase);
    }
  }
  dropGoneTables(page, statements);
  if (statements.empty() && page.phases.empty() && page.dropped.empty()) return std::nullopt;
  page.jobs = planner_.planStatements(std::move(statements));
  return page;
}

// Columns added and indexes created or dropped locally since D1 got the table (a shadow has
// no indexes until it is swapped in). False when D1 has a column the local table lacks.
bool Engine::alterTable(const Table& t, const TableState& ts, std::vector<std::string>& out) {
  for (const auto& c : ts.columns)
    if (!t.column(c) && !shape_.tenant) return false;
  const std::string name = ts.shadow ? shadowName(t.name) : t.name;
  for (const auto& c : t.columns)
    if (!containsNoCase(ts.columns, c.name))
      out.push_back("ALTER TABLE " + quoteIdent(name) + " ADD COLUMN " +
                    columnDefinition(c, shape_));
  std::vector<std::string> indexes = ts.shadow ? ts.indexes : createIndexDdl(t, t.name, shape_);
  for (const auto& ix : ts.indexes)
    if (std::find(indexes.begin(), indexes.end(), ix) == indexes.end())
      out.push_back("DROP INDEX IF EXISTS " + quoteIdent(indexName(ix)));
  for (auto& ix : indexes)
    if (std::find(ts.indexes.begin(), ts.indexes.end(), ix) == ts.indexes.end())
      out.push_back(std::move(ix));
  return true;
}

// Tables gone locally: dropped in D1, or with a tenant, this tenant's rows deleted.
void Engine::dropGoneTables(Page& page, std::vector<std::string>& out) {
  for (const auto& [name, ts] : state_.tables) {
    bool present = false;
    for (const auto& t : tables_)
      if (t.name == name) present = true;
    if (present) continue;
    if (shape_.tenant) {
      if (ts.phase != TablePhase::Create)
        out.push_back("DELETE FROM " + quoteIdent(name) + " WHERE " +
                      quoteIdent(shape_.tenant->column) + "=" + shape_.tenant->literal);
    } else {
      out.push_back("DROP TABLE IF EXISTS " + quoteIdent(name));
      out.push_back("DROP TABLE IF EXISTS " + quoteIdent(shadowName(name)));
    }
    page.dropped.push_back(name);
  }
}

}  // namespace d1sync
