#include "capture.hpp"

#include "render.hpp"
#include "sql_text.hpp"

namespace d1sync {

std::string bookkeepingDdl(bool temp) {
  const std::string table = temp ? "CREATE TEMP TABLE" : "CREATE TABLE";
  const std::string trigger = temp ? "CREATE TEMP TRIGGER" : "CREATE TRIGGER";
  // Not AUTOINCREMENT: keeping sqlite_sequence up to date is a second write on every captured
  // change. A plain rowid key takes max(seq) + 1, and the newest row cannot be deleted, so
  // sequence numbers keep rising even when someone empties the outbox.
  return table +
         " IF NOT EXISTS _d1sync_log(seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT "
         "NULL, key TEXT NOT NULL, at_ms INTEGER NOT NULL);" +
         trigger +
         " IF NOT EXISTS _d1sync_log_keep BEFORE DELETE ON _d1sync_log WHEN OLD.seq = (SELECT "
         "max(seq) FROM _d1sync_log) BEGIN SELECT RAISE(IGNORE); END;" +
         table +
         " IF NOT EXISTS _d1sync_state(id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL);" +
         table + " IF NOT EXISTS _d1sync_tables(name TEXT PRIMARY KEY, doc TEXT NOT NULL);" +
         table +
         " IF NOT EXISTS _d1sync_quarantine(id INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT "
         "NULL, key TEXT NOT NULL, code TEXT NOT NULL, error TEXT NOT NULL, at_ms INTEGER NOT "
         "NULL);"
         // One entry per row: a page rebuilt after a restart quarantines the same row again.
         // (On a TEMP table the index is a TEMP index.)
         "CREATE UNIQUE INDEX IF NOT EXISTS _d1sync_quarantine_row ON _d1sync_quarantine(tbl, key)";
}

std::string triggerName(char op, const std::string& table) {
  return std::string("_d1sync_") + op + "_" + table;
}

namespace {

// What a captured write costs (issue 14, measured by bench/capture.mjs): a trigger makes its
// statement write twice, and SQLite gives a statement that writes twice and may abort midway
// a statement journal when a transaction is open (in a Durable Object one always is). An
// INSERT that checks a key's uniqueness may abort anyway; an UPDATE or DELETE may through the
// trigger: any SQL function call in it, or the outbox's NOT NULL checks. The time (nowMsExpr)
// is the one call left for integer keys; it is enough to make every captured UPDATE and
// DELETE pay for the journal, and at_ms, what lagMs is made of, has no other source.
std::string logInsert(const std::string& table, char op, const std::string& keyExpr) {
  return "INSERT INTO _d1sync_log(tbl, op, key, at_ms) VALUES (" + quoteText(table) + ", '" + op +
         "', " + keyExpr + ", " + nowMsExpr() + ");";
}

// A declared key the engine keys rows by never yields a victim under another key; in a table
// keyed by rowid, the declared PRIMARY KEY is just another UNIQUE index.
bool victimSource(const Table& t, const Index& ix) {
  return ix.unique && (ix.origin != "pk" || t.keyKind == KeyKind::Rowid);
}

// Rows that share a UNIQUE index value with NEW: an OR REPLACE would delete them silently.
std::string victimsTrigger(const Table& t, const char* when, std::vector<std::string>& warnings) {
  std::string cond, columns;
  for (const auto& ix : t.indexes) {
    if (!victimSource(t, ix)) continue;
    if (ix.hasExpression()) {
      warnings.push_back("table " + t.name +
                         ": rows removed by OR REPLACE through expression index " + ix.name +
                         " are not captured");
      continue;
    }
    std::string term;
    for (const auto& c : ix.columns) {
      if (!term.empty()) term += " AND ";
      term += "v." + quoteIdent(c.name) + "=NEW." + quoteIdent(c.name) + " COLLATE " +
              quoteIdent(c.collate.empty() ? "BINARY" : c.collate);
      if (columns.find(quoteIdent(c.name)) == std::string::npos)
        columns += (columns.empty() ? "" : ",") + quoteIdent(c.name);
    }
    cond += (cond.empty() ? "(" : " OR (") + term + ")";
  }
  if (cond.empty()) return {};
  // An UPDATE can only collide through the unique columns it sets, and never with itself.
  bool insert = *when == 'R';
  std::string self;
  if (!insert) {
    auto vs = t.keyExprs("v"), olds = t.keyExprs("OLD");
    std::string a, b;
    for (size_t i = 0; i < vs.size(); ++i) {
      a += (i ? "," : "") + vs[i];
      b += (i ? "," : "") + olds[i];
    }
    self = vs.size() == 1 ? " AND " + a + " IS NOT " + b : " AND (" + a + ") IS NOT (" + b + ")";
  }
  return "CREATE TRIGGER IF NOT EXISTS " + quoteIdent(triggerName(*when, t.name)) + " BEFORE " +
         (insert ? "INSERT" : "UPDATE OF " + columns) + " ON " + quoteIdent(t.name) +
         " BEGIN INSERT INTO _d1sync_log(tbl, op, key, at_ms) SELECT " + quoteText(t.name) +
         ", 'R', " + keyLiteralExpr(t, "v") + ", " + nowMsExpr() + " FROM " + quoteIdent(t.name) +
         " AS v WHERE (" + cond + ")" + self + "; END";
}

}  // namespace

std::vector<std::string> captureTriggerNames(const Table& t) {
  std::vector<std::string> names{triggerName('i', t.name), triggerName('k', t.name),
                                 triggerName('u', t.name), triggerName('d', t.name)};
  std::vector<std::string> ignored;
  if (!victimsTrigger(t, "R", ignored).empty()) {
    names.push_back(triggerName('R', t.name));
    names.push_back(triggerName('S', t.name));
  }
  return names;
}

std::vector<std::string> captureDdl(const Table& t, std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  const std::string tn = quoteIdent(t.name);
  const std::string newKey = keyLiteralExpr(t, "NEW");
  const std::string oldKey = keyLiteralExpr(t, "OLD");
  out.push_back("CREATE TRIGGER IF NOT EXISTS " + quoteIdent(triggerName('i', t.name)) +
                " AFTER INSERT ON " + tn + " BEGIN " + logInsert(t.name, 'I', newKey) + " END");
  // A key-changing UPDATE logs the old key too, so D1 drops the row under its old key. The
  // comparison uses the key columns' own collation, as the primary key does.
  std::string keyChanged;
  auto olds = t.keyExprs("OLD");
  auto news = t.keyExprs("NEW");
  for (size_t i = 0; i < olds.size(); ++i)
    keyChanged += (i ? " OR " : "") + olds[i] + " IS NOT " + news[i];
  out.push_back("CREATE TRIGGER IF NOT EXISTS " + quoteIdent(triggerName('u', t.name)) +
                " AFTER UPDATE ON " + tn + " BEGIN " + logInsert(t.name, 'U', newKey) + " END");
  // Its own trigger, limited to UPDATEs that set a key column: the common UPDATE runs one
  // INSERT into the outbox and nothing else. Created after the 'u' trigger, so it fires first
  // (SQLite runs the newest trigger first) and the old key is logged before the new one.
  // UPDATE OF matches the names the SET list spells: a rowid changes through any of its
  // three names (and an INTEGER PRIMARY KEY through its column's too), whether or not a
  // column hides one of them, in which case the WHEN clause finds the key unchanged.
  std::string keyColumns;
  if (t.keyKind == KeyKind::Declared)
    for (const auto& k : t.keyExprs("")) keyColumns += (keyColumns.empty() ? "" : ",") + k;
  if (t.keyKind == KeyKind::Rowid || t.rowidAlias)
    keyColumns += std::string(keyColumns.empty() ? "" : ",") + "rowid,oid,_rowid_";
  out.push_back("CREATE TRIGGER IF NOT EXISTS " + quoteIdent(triggerName('k', t.name)) +
                " AFTER UPDATE OF " + keyColumns + " ON " + tn + " WHEN " + keyChanged + " BEGIN " +
                logInsert(t.name, 'D', oldKey) + " END");
  out.push_back("CREATE TRIGGER IF NOT EXISTS " + quoteIdent(triggerName('d', t.name)) +
                " AFTER DELETE ON " + tn + " BEGIN " + logInsert(t.name, 'D', oldKey) + " END");
  std::string ins = victimsTrigger(t, "R", warnings);
  if (!ins.empty()) {
    out.push_back(ins);
    out.push_back(victimsTrigger(t, "S", warnings));
  }
  return out;
}

CaptureState captureState(const Table& t, const std::vector<MasterEntry>& entries) {
  std::vector<std::string> ignored;
  const auto ddls = captureDdl(t, ignored);
  bool stale = false;
  for (const auto& name : captureTriggerNames(t)) {
    const MasterEntry* found = nullptr;
    for (const auto& e : entries)
      if (e.type == "trigger" && equalsNoCase(e.name, name)) found = &e;
    if (!found) return CaptureState::Missing;
    // sqlite_master keeps a CREATE statement as written, less its IF NOT EXISTS.
    const std::string want = "CREATE TRIGGER " + quoteIdent(name) + " ";
    bool same = false;
    for (const auto& ddl : ddls) {
      const std::string head = "CREATE TRIGGER IF NOT EXISTS " + quoteIdent(name) + " ";
      if (ddl.compare(0, head.size(), head) == 0)
        same = found->sql.size() == want.size() + ddl.size() - head.size() &&
               found->sql.compare(0, want.size(), want) == 0 &&
               found->sql.compare(want.size(), std::string::npos, ddl, head.size()) == 0;
    }
    if (!same) stale = true;
  }
  return stale ? CaptureState::Stale : CaptureState::Current;
}

std::vector<std::string> dropCaptureDdl(const std::string& table) {
  std::vector<std::string> out;
  for (char op : {'i', 'k', 'u', 'd', 'R', 'S'})
    out.push_back("DROP TRIGGER IF EXISTS " + quoteIdent(triggerName(op, table)));
  return out;
}

}  // namespace d1sync
