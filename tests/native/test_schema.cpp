// Reading the local schema (parseCreateTable, readTable, key detection, skipped tables), the DDL
// D1 gets for it (checked by running it in the D1 simulator and reading the result back), and
// the capture triggers (checked by writing through them and reading the outbox).
#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "capture.hpp"
#include "ddl.hpp"
#include "fixtures.hpp"
#include "render.hpp"
#include "schema.hpp"
#include "sql_text.hpp"

namespace d1sync::native {
namespace {

std::vector<MasterEntry> master(SqliteLocal& db) {
  auto r = db.exec(masterQuery());
  EXPECT_TRUE(r.ok) << r.error;
  return parseMaster(r.rows);
}

const MasterEntry* entry(const std::vector<MasterEntry>& all, const std::string& name) {
  for (const auto& e : all)
    if (e.name == name) return &e;
  return nullptr;
}

// Reads `name` from `db`; an empty table (and a test failure) when it cannot.
Table read(SqliteLocal& db, const std::string& name) {
  auto all = master(db);
  const MasterEntry* e = entry(all, name);
  if (!e) {
    ADD_FAILURE() << "no table " << name;
    return {};
  }
  std::string error;
  auto t = readTable(db, *e, all, error);
  if (!t) {
    ADD_FAILURE() << "readTable(" << name << "): " << error;
    return {};
  }
  return *t;
}

// All rows of a query as "a|b|c" lines (NULL as <null>).
std::vector<std::string> lines(const QueryResult& r) {
  EXPECT_TRUE(r.ok) << r.error;
  std::vector<std::string> out;
  for (size_t i = 0; i < r.rows.size(); ++i) {
    std::string l;
    for (size_t c = 0; c < r.rows.columns; ++c)
      l += (c ? "|" : "") + (r.rows.isNull(i, c) ? std::string("<null>") : r.rows.at(i, c));
    out.push_back(l);
  }
  return out;
}

std::string one(const QueryResult& r) {
  EXPECT_TRUE(r.ok) << r.error;
  return r.ok && r.rows.size() ? r.rows.at(0, 0) : "<none>";
}

// Runs the D1 DDL of `t` in the simulator as one batch.
void createInD1(D1Simulator& d1, const Table& t, const std::string& d1Name, const D1Shape& shape) {
  std::vector<std::string> stmts{createTableDdl(t, d1Name, shape)};
  for (auto& s : createIndexDdl(t, d1Name, shape)) stmts.push_back(s);
  auto r = d1.batch(stmts);
  std::string all;
  for (const auto& s : stmts) all += s + ";\n";
  ASSERT_TRUE(r.ok) << r.failure.message << "\n" << all;
}

struct IndexInfo {
  bool unique = false;
  bool partial = false;
  std::vector<std::string> columns;  // "name[ DESC][ COLLATE x]" ("<expr>" for expressions)
};

std::map<std::string, IndexInfo> d1Indexes(D1Simulator& d1, const std::string& table) {
  std::map<std::string, IndexInfo> out;
  auto list = d1.query("SELECT name, \"unique\", partial, origin FROM pragma_index_list(" +
                       quoteText(table) + ")");
  EXPECT_TRUE(list.ok) << list.error;
  for (size_t i = 0; i < list.rows.size(); ++i) {
    if (list.rows.at(i, 3) == "pk") continue;
    IndexInfo info;
    info.unique = list.rows.at(i, 1) == "1";
    info.partial = list.rows.at(i, 2) == "1";
    auto xi = d1.query("SELECT cid, name, desc, coll FROM pragma_index_xinfo(" +
                       quoteText(list.rows.at(i, 0)) + ") WHERE key ORDER BY seqno");
    EXPECT_TRUE(xi.ok) << xi.error;
    for (size_t k = 0; k < xi.rows.size(); ++k) {
      std::string c = xi.rows.at(k, 0) == "-2" ? "<expr>" : xi.rows.at(k, 1);
      if (xi.rows.at(k, 2) == "1") c += " DESC";
      if (xi.rows.at(k, 3) != "BINARY") c += " COLLATE " + xi.rows.at(k, 3);
      info.columns.push_back(c);
    }
    out[list.rows.at(i, 0)] = info;
  }
  return out;
}

const char* kUsers = R"sql(
  CREATE TABLE teams(id INTEGER PRIMARY KEY, name TEXT);
  CREATE TABLE users(
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    age INT CHECK (age >= 0),
    team INT REFERENCES teams(id),
    score REAL DEFAULT 0.5,
    tag TEXT DEFAULT (upper('x')),
    "full" TEXT GENERATED ALWAYS AS (email || '!') STORED,
    low TEXT AS (lower(email)) VIRTUAL,
    UNIQUE (team, age),
    CHECK (score < 1000),
    FOREIGN KEY (team) REFERENCES teams(id));
  CREATE UNIQUE INDEX users_age ON users(age DESC) WHERE age > 10;
  CREATE INDEX users_low ON users(lower(email));
)sql";

// ---------------------------------------------------------------------------------------------
// Schema: parseCreateTable / readTable / key detection / skipReason

TEST(Schema, ParseCreateTableReadsWhatOnlyTheTextSays) {
  const std::string sql =
      "CREATE TABLE \"Odd \"\"T\"\"\"(\n"
      "  a TEXT COLLATE NOCASE NOT NULL, -- a comment, with (parens\n"
      "  \"b c\" INT GENERATED ALWAYS AS (length(a) * 2) STORED,\n"
      "  d AS (upper(a)) VIRTUAL,\n"
      "  e INTEGER CHECK (e > 0) CHECK (e < 100) REFERENCES parent(id) ON DELETE CASCADE "
      "DEFERRABLE INITIALLY DEFERRED,\n"
      "  f TEXT DEFAULT ('a(b') REFERENCES parent(name) NOT DEFERRABLE NOT NULL,\n"
      "  g DECIMAL(10, 2) COLLATE [RTRIM] /* , h INT */,\n"
      "  CONSTRAINT pk PRIMARY KEY (a),\n"
      "  UNIQUE (f),\n"
      "  CONSTRAINT positive CHECK (e <> 13),\n"
      "  FOREIGN KEY (g) REFERENCES other(x)\n"
      ") WITHOUT ROWID, STRICT";
  Table t;
  for (const char* n : {"a", "b c", "d", "e", "f", "g"}) t.columns.push_back(Column{n});
  parseCreateTable(sql, t);
  EXPECT_EQ(t.columns[0].collate, "NOCASE");
  EXPECT_TRUE(t.columns[0].generated.empty());
  EXPECT_EQ(t.columns[1].generated, "length(a) * 2");
  EXPECT_EQ(t.columns[2].generated, "upper(a)");
  EXPECT_EQ(t.columns[3].checks, (std::vector<std::string>{"CHECK (e > 0)", "CHECK (e < 100)"}));
  EXPECT_EQ(t.columns[3].references,
            "REFERENCES parent(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED");
  EXPECT_EQ(t.columns[4].references, "REFERENCES parent(name) NOT DEFERRABLE");
  EXPECT_TRUE(t.columns[4].checks.empty());
  EXPECT_TRUE(t.columns[4].collate.empty());
  EXPECT_EQ(t.columns[5].collate, "RTRIM");
  EXPECT_EQ(t.tableChecks, (std::vector<std::string>{"CONSTRAINT positive CHECK (e <> 13)"}));
  EXPECT_EQ(t.tableForeignKeys, (std::vector<std::string>{"FOREIGN KEY (g) REFERENCES other(x)"}));
  EXPECT_TRUE(t.withoutRowid);
  EXPECT_TRUE(t.strict);
}

TEST(Schema, ParseCreateTableOfPlainAndAsSelectTables) {
  Table plain;
  plain.columns.push_back(Column{"strict"});
  parseCreateTable("CREATE TABLE \"without\"(\"strict\" TEXT)", plain);
  EXPECT_FALSE(plain.withoutRowid);
  EXPECT_FALSE(plain.strict);
  Table as;
  as.columns.push_back(Column{"x"});
  parseCreateTable("CREATE TABLE s AS SELECT 1 AS x", as);
  EXPECT_TRUE(as.columns[0].generated.empty());
  EXPECT_FALSE(as.strict);
}

TEST(Schema, ReadTableOnARealDatabase) {
  SqliteLocal db(":memory:");
  db.run(R"sql(
    CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT UNIQUE);
    CREATE TABLE t(
      a TEXT NOT NULL COLLATE NOCASE,
      b INT GENERATED ALWAYS AS (length(a) * 2) STORED,
      c TEXT AS (upper(a)) VIRTUAL,
      e INTEGER CHECK (e > 0) REFERENCES parent(id),
      f TEXT DEFAULT 'x(y' REFERENCES parent(name),
      PRIMARY KEY (a, e),
      CHECK (e <> 13),
      FOREIGN KEY (f) REFERENCES parent(name)
    ) WITHOUT ROWID, STRICT;
    CREATE INDEX t_f ON t(f DESC) WHERE f IS NOT NULL;
    CREATE UNIQUE INDEX t_lower ON t(lower(f));
  )sql");
  Table t = read(db, "t");
  ASSERT_EQ(t.columns.size(), 5u);
  EXPECT_EQ(t.name, "t");
  EXPECT_TRUE(t.withoutRowid);
  EXPECT_TRUE(t.strict);
  EXPECT_EQ(t.columns[0].name, "a");
  EXPECT_EQ(t.columns[0].type, "TEXT");
  EXPECT_TRUE(t.columns[0].notNull);
  EXPECT_EQ(t.columns[0].collate, "NOCASE");
  EXPECT_EQ(t.columns[0].pk, 1);
  EXPECT_EQ(t.columns[1].hidden, 3);
  EXPECT_EQ(t.columns[1].generated, "length(a) * 2");
  EXPECT_EQ(t.columns[2].hidden, 2);
  EXPECT_EQ(t.columns[2].generated, "upper(a)");
  EXPECT_TRUE(t.columns[1].isGenerated());
  EXPECT_FALSE(t.columns[3].isGenerated());
  EXPECT_EQ(t.columns[3].checks, (std::vector<std::string>{"CHECK (e > 0)"}));
  EXPECT_EQ(t.columns[3].references, "REFERENCES parent(id)");
  EXPECT_EQ(t.columns[3].pk, 2);
  ASSERT_TRUE(t.columns[4].defaultSql.has_value());
  EXPECT_EQ(*t.columns[4].defaultSql, "'x(y'");
  EXPECT_EQ(t.tableChecks.size(), 1u);
  EXPECT_EQ(t.tableForeignKeys.size(), 1u);
  EXPECT_EQ(t.parents, (std::vector<std::string>{"parent"}));
  EXPECT_EQ(t.keyKind, KeyKind::Declared);
  EXPECT_EQ(t.key, (std::vector<size_t>{0, 3}));
  EXPECT_EQ(t.storedColumns(), (std::vector<size_t>{0, 3, 4}));
  EXPECT_EQ(t.keyColumnNames(), (std::vector<std::string>{"a", "e"}));
  EXPECT_EQ(t.keyExprs("NEW"), (std::vector<std::string>{"NEW.\"a\"", "NEW.\"e\""}));

  std::map<std::string, const Index*> ix;
  for (const auto& i : t.indexes) ix[i.name] = &i;
  ASSERT_EQ(ix.count("t_f"), 1u);
  ASSERT_EQ(ix.count("t_lower"), 1u);
  EXPECT_FALSE(ix["t_f"]->unique);
  EXPECT_TRUE(ix["t_f"]->partial);
  EXPECT_EQ(ix["t_f"]->origin, "c");
  ASSERT_EQ(ix["t_f"]->columns.size(), 1u);  // the trailing key columns are not listed
  EXPECT_EQ(ix["t_f"]->columns[0].name, "f");
  EXPECT_TRUE(ix["t_f"]->columns[0].desc);
  EXPECT_NE(ix["t_f"]->sql.find("CREATE INDEX t_f"), std::string::npos);
  EXPECT_TRUE(ix["t_lower"]->unique);
  EXPECT_TRUE(ix["t_lower"]->hasExpression());
  EXPECT_FALSE(ix["t_f"]->hasExpression());
  size_t pk = 0;
  for (const auto& i : t.indexes) pk += i.origin == "pk";
  EXPECT_EQ(pk, 1u);
  // Creation order: the PRIMARY KEY autoindex before t_f before t_lower.
  std::vector<std::string> order;
  for (const auto& i : t.indexes) order.push_back(i.name);
  EXPECT_LT(std::find(order.begin(), order.end(), "t_f"),
            std::find(order.begin(), order.end(), "t_lower"));
}

struct KeyCase {
  const char* sql;
  KeyKind kind;
  std::vector<size_t> key;
  bool rowidAlias = false;
};

TEST(Schema, KeyDetection) {
  const std::vector<KeyCase> cases = {
      {"CREATE TABLE k(id INTEGER PRIMARY KEY, v)", KeyKind::Declared, {0}, true},
      {"CREATE TABLE k(v, id integer primary key)", KeyKind::Declared, {1}, true},
      {"CREATE TABLE k(id INTEGER, v, PRIMARY KEY(id DESC))", KeyKind::Declared, {0}, true},
      {"CREATE TABLE k(id INTEGER NOT NULL PRIMARY KEY DESC, v)", KeyKind::Declared, {0}},
      {"CREATE TABLE k(v, w)", KeyKind::Rowid, {}},
      {"CREATE TABLE k(id TEXT PRIMARY KEY, v)", KeyKind::Rowid, {}},
      {"CREATE TABLE k(id INT PRIMARY KEY, v)", KeyKind::Rowid, {}},
      {"CREATE TABLE k(id INTEGER PRIMARY KEY DESC, v)", KeyKind::Rowid, {}},
      {"CREATE TABLE k(id TEXT NOT NULL PRIMARY KEY, v)", KeyKind::Declared, {0}},
      {"CREATE TABLE k(a TEXT NOT NULL, b INT NOT NULL, v, PRIMARY KEY(b, a))",
       KeyKind::Declared,
       {1, 0}},
      {"CREATE TABLE k(a TEXT NOT NULL, b INT, v, PRIMARY KEY(a, b))", KeyKind::Rowid, {}},
      {"CREATE TABLE k(a TEXT, b INT, PRIMARY KEY(a, b)) WITHOUT ROWID", KeyKind::Declared, {0, 1}},
      {"CREATE TABLE k(id TEXT PRIMARY KEY, v) WITHOUT ROWID", KeyKind::Declared, {0}},
      {"CREATE TABLE k(id INTEGER PRIMARY KEY, v) WITHOUT ROWID", KeyKind::Declared, {0}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.sql);
    SqliteLocal db(":memory:");
    db.run(c.sql);
    Table t = read(db, "k");
    EXPECT_EQ(t.keyKind, c.kind);
    EXPECT_EQ(t.rowidAlias, c.rowidAlias);
    if (c.kind == KeyKind::Declared) {
      EXPECT_EQ(t.key, c.key);
      EXPECT_EQ(t.keySize(), c.key.size());
    } else {
      EXPECT_EQ(t.rowidName, "rowid");
      EXPECT_EQ(t.d1RowidColumn, "rowid");
      EXPECT_EQ(t.keySize(), 1u);
      EXPECT_EQ(t.keyColumnNames(), (std::vector<std::string>{"rowid"}));
      EXPECT_EQ(t.keyExprs("OLD"), (std::vector<std::string>{"OLD.rowid"}));
    }
  }
}

TEST(Schema, RowidKeyAvoidsColumnsNamedLikeTheRowid) {
  SqliteLocal db(":memory:");
  db.run(
      "CREATE TABLE r1(RowId TEXT, v); INSERT INTO r1 VALUES ('x', 1);"
      "CREATE TABLE r2(rowid TEXT, _rowid_ TEXT, v); INSERT INTO r2 VALUES ('x', 'y', 1);"
      "CREATE TABLE r3(rowid, _rowid_, oid)");
  Table r1 = read(db, "r1");
  EXPECT_EQ(r1.keyKind, KeyKind::Rowid);
  EXPECT_EQ(r1.rowidName, "_rowid_");
  EXPECT_EQ(r1.d1RowidColumn, "_d1sync_rowid");
  EXPECT_EQ(one(db.exec("SELECT " + r1.keyExprs("")[0] + " FROM r1")), "1");
  Table r2 = read(db, "r2");
  EXPECT_EQ(r2.rowidName, "oid");
  EXPECT_EQ(one(db.exec("SELECT " + r2.keyExprs("")[0] + " FROM r2")), "1");

  auto all = master(db);
  std::string error;
  EXPECT_FALSE(readTable(db, *entry(all, "r3"), all, error).has_value());
  EXPECT_NE(error.find("r3"), std::string::npos) << error;
}

TEST(Schema, SkipReasonsForInternalBookkeepingVirtualAndShadowTables) {
  SqliteLocal db(":memory:");
  db.run(bookkeepingDdl());
  db.run(R"sql(
    CREATE TABLE keep(id INTEGER PRIMARY KEY AUTOINCREMENT, v);
    INSERT INTO keep(v) VALUES (1);
    CREATE TABLE _cf_KV(k, v);
    CREATE TABLE _CF_METADATA(k, v);
    create virtual table docs using fts5(body);
    CREATE TABLE docs_like(x);
    CREATE TABLE "other_data"(x);
    CREATE INDEX keep_v ON keep(v);
    CREATE VIEW vw AS SELECT 1;
    CREATE TRIGGER tr AFTER INSERT ON docs_like BEGIN SELECT 1; END;
    ANALYZE;
  )sql");
  auto all = master(db);
  std::set<std::string> replicated;
  std::map<std::string, std::string> why;
  for (const auto& e : all) {
    std::string r = skipReason(e, all);
    if (r.empty())
      replicated.insert(e.name);
    else
      why[e.name] = r;
  }
  EXPECT_EQ(replicated, (std::set<std::string>{"keep", "docs_like", "other_data"}));
  for (const char* n : {"sqlite_sequence", "sqlite_stat1", "_cf_KV", "_CF_METADATA", "_d1sync_log",
                        "_d1sync_state", "_d1sync_quarantine", "docs", "docs_data", "docs_idx",
                        "docs_content", "docs_docsize", "docs_config", "keep_v", "vw", "tr"})
    EXPECT_FALSE(why[n].empty()) << n;
  EXPECT_NE(why["docs"].find("virtual"), std::string::npos) << why["docs"];
  EXPECT_NE(why["docs_data"].find("shadow"), std::string::npos) << why["docs_data"];
  EXPECT_NE(why["docs_config"].find("docs"), std::string::npos) << why["docs_config"];
  // Every shadow table FTS5 made is named in the list.
  for (const auto& e : all)
    if (e.name.rfind("docs_", 0) == 0 && e.name != "docs_like")
      EXPECT_TRUE(why.count(e.name)) << e.name;
}

// ---------------------------------------------------------------------------------------------
// Ddl: createTableDdl / createIndexDdl, run in the simulator

TEST(Ddl, ReplicaKeepsColumnsKeyAndIndexesButNoConstraints) {
  SqliteLocal local(":memory:");
  local.run(kUsers);
  Table t = read(local, "users");
  D1Simulator d1;
  createInD1(d1, t, "users", D1Shape{});
  // Columns: names, types, NOT NULL, defaults, key and generated kinds all as in the source.
  EXPECT_EQ(lines(d1.query("PRAGMA table_xinfo(users)")),
            lines(local.exec("PRAGMA table_xinfo(users)")));
  EXPECT_TRUE(lines(d1.query("PRAGMA foreign_key_list(users)")).empty());
  auto ix = d1Indexes(d1, "users");
  ASSERT_EQ(ix.size(), 4u);
  for (const auto& [name, info] : ix) EXPECT_FALSE(info.unique) << name;
  ASSERT_EQ(ix.count("users_age"), 1u);
  EXPECT_TRUE(ix["users_age"].partial);
  EXPECT_EQ(ix["users_age"].columns, (std::vector<std::string>{"age DESC"}));
  EXPECT_EQ(ix["users_low"].columns, (std::vector<std::string>{"<expr>"}));
  EXPECT_EQ(ix["_d1sync_u1_users"].columns, (std::vector<std::string>{"email COLLATE NOCASE"}));
  EXPECT_EQ(ix["_d1sync_u2_users"].columns, (std::vector<std::string>{"team", "age"}));
  EXPECT_EQ(d1Columns(t, D1Shape{}),
            (std::vector<std::string>{"id", "email", "age", "team", "score", "tag"}));

  // Rows the source's constraints would refuse are accepted: D1 is a replica.
  auto r =
      d1.batch({"INSERT INTO users(id, email, age, team, score) VALUES "
                "(1, 'a@x', 50, 999, 5000), (2, 'A@X', -5, 999, 5000), (3, 'b', 50, 999, 1)"});
  ASSERT_TRUE(r.ok) << r.failure.message;
  // Generated columns are recomputed, the collation and the defaults are D1's too.
  EXPECT_EQ(
      lines(d1.query("SELECT \"full\", low, tag, typeof(score), score FROM users WHERE id=2")),
      (std::vector<std::string>{"A@X!|a@x|X|real|5000.0"}));
  EXPECT_EQ(one(d1.query("SELECT count(*) FROM users WHERE email = 'a@X'")), "2");
  ASSERT_TRUE(d1.batch({"INSERT INTO users(id, email) VALUES (4, 'c')"}).ok);
  EXPECT_EQ(lines(d1.query("SELECT score, tag FROM users WHERE id=4")),
            (std::vector<std::string>{"0.5|X"}));
  // The key is still a key.
  EXPECT_FALSE(d1.batch({"INSERT INTO users(id, email) VALUES (4, 'd')"}).ok);
  // The DDL is idempotent.
  createInD1(d1, t, "users", D1Shape{});
}

TEST(Ddl, StrictKeepsUniqueCheckAndForeignKeys) {
  SqliteLocal local(":memory:");
  local.run(kUsers);
  Table teams = read(local, "teams");
  Table t = read(local, "users");
  D1Shape strict{SchemaMode::Strict, std::nullopt};
  D1Simulator d1;
  createInD1(d1, teams, "teams", strict);
  createInD1(d1, t, "users", strict);
  EXPECT_EQ(lines(d1.query("PRAGMA table_xinfo(users)")),
            lines(local.exec("PRAGMA table_xinfo(users)")));
  auto fks =
      lines(d1.query("SELECT DISTINCT \"table\", \"from\", \"to\" FROM "
                     "pragma_foreign_key_list('users')"));
  EXPECT_EQ(fks, (std::vector<std::string>{"teams|team|id"}));
  auto ix = d1Indexes(d1, "users");
  ASSERT_EQ(ix.size(), 4u);
  EXPECT_TRUE(ix["users_age"].unique);
  EXPECT_TRUE(ix["users_age"].partial);
  EXPECT_FALSE(ix["users_low"].unique);
  EXPECT_TRUE(ix["_d1sync_u1_users"].unique);
  EXPECT_TRUE(ix["_d1sync_u2_users"].unique);

  ASSERT_TRUE(d1.batch({"INSERT INTO teams VALUES (1, 'a')",
                        "INSERT INTO users(id, email, age, team) VALUES (1, 'a@x', 20, 1)"})
                  .ok);
  for (const char* bad : {"INSERT INTO users(id, email) VALUES (2, 'A@X')",             // UNIQUE
                          "INSERT INTO users(id, email, age) VALUES (3, 'c', -1)",      // CHECK
                          "INSERT INTO users(id, email, score) VALUES (4, 'd', 5000)",  // CHECK
                          "INSERT INTO users(id, email, team) VALUES (5, 'e', 999)",    // FK
                          "INSERT INTO users(id, email, age) VALUES (6, 'f', 20)"})     // index
    EXPECT_FALSE(d1.batch({bad}).ok) << bad;
}

TEST(Ddl, TenantLeadsTheKeyAndEveryIndex) {
  SqliteLocal local(":memory:");
  local.run(kUsers);
  local.run("CREATE TABLE ev(kind TEXT, payload)");
  D1Shape shape{SchemaMode::Replica, TenantSpec{"room", "'r1'", "TEXT"}};
  Table t = read(local, "users");
  EXPECT_EQ(shapeProblem(t, shape, 100), "");
  D1Simulator d1;
  createInD1(d1, t, "users", shape);
  auto cols =
      lines(d1.query("SELECT name, type, \"notnull\", pk FROM pragma_table_xinfo('users') "
                     "WHERE pk > 0 OR cid = 0 ORDER BY cid"));
  EXPECT_EQ(cols, (std::vector<std::string>{"room|TEXT|1|1", "id|INTEGER|0|2"}));
  auto ix = d1Indexes(d1, "users");
  ASSERT_EQ(ix.size(), 4u);
  for (const auto& [name, info] : ix) {
    ASSERT_FALSE(info.columns.empty()) << name;
    EXPECT_EQ(info.columns[0], "room") << name;
    EXPECT_FALSE(info.unique) << name;
  }
  EXPECT_EQ(ix["_d1sync_u2_users"].columns, (std::vector<std::string>{"room", "team", "age"}));
  EXPECT_EQ(d1Columns(t, shape),
            (std::vector<std::string>{"room", "id", "email", "age", "team", "score", "tag"}));
  // Two tenants may hold the same key; one tenant may not hold it twice.
  EXPECT_TRUE(
      d1.batch({"INSERT INTO users(room, id, email) VALUES ('r1', 1, 'a'), ('r2', 1, 'a')"}).ok);
  EXPECT_FALSE(d1.batch({"INSERT INTO users(room, id, email) VALUES ('r1', 1, 'b')"}).ok);

  Table ev = read(local, "ev");
  createInD1(d1, ev, "ev", shape);
  EXPECT_EQ(lines(d1.query("SELECT name, pk FROM pragma_table_xinfo('ev') ORDER BY cid")),
            (std::vector<std::string>{"room|1", "rowid|2", "kind|0", "payload|0"}));
}

TEST(Ddl, RowidKeyedTablesGetAnExplicitRowidColumn) {
  SqliteLocal local(":memory:");
  local.run(
      "CREATE TABLE ev(kind TEXT, payload); CREATE TABLE ev2(rowid TEXT, v);"
      "CREATE TABLE ev3(k TEXT PRIMARY KEY, v)");
  D1Simulator d1;
  Table ev = read(local, "ev");
  createInD1(d1, ev, "ev", D1Shape{});
  EXPECT_EQ(lines(d1.query("SELECT name, type, \"notnull\", pk FROM pragma_table_xinfo('ev')")),
            (std::vector<std::string>{"rowid|INTEGER|1|1", "kind|TEXT|0|0", "payload||0|0"}));
  ASSERT_TRUE(d1.batch({"INSERT INTO ev(rowid, kind) VALUES (7, 'a')"}).ok);
  EXPECT_EQ(one(d1.query("SELECT \"rowid\" FROM ev")), "7");
  EXPECT_EQ(d1Columns(ev, D1Shape{}), (std::vector<std::string>{"rowid", "kind", "payload"}));

  Table ev2 = read(local, "ev2");
  createInD1(d1, ev2, "ev2", D1Shape{});
  EXPECT_EQ(lines(d1.query("SELECT name, pk FROM pragma_table_xinfo('ev2')")),
            (std::vector<std::string>{"_d1sync_rowid|1", "rowid|0", "v|0"}));

  // A nullable TEXT PRIMARY KEY may hold NULLs locally: D1 keys by rowid and the declared
  // key is an ordinary column there.
  Table ev3 = read(local, "ev3");
  createInD1(d1, ev3, "ev3", D1Shape{});
  EXPECT_TRUE(d1.batch({"INSERT INTO ev3(rowid, k) VALUES (1, NULL), (2, NULL)"}).ok);
}

TEST(Ddl, WithoutRowidAndStrictCarryOver) {
  SqliteLocal local(":memory:");
  local.run(
      "CREATE TABLE w(k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID, STRICT;"
      "CREATE TABLE s(id INTEGER PRIMARY KEY, n INTEGER) STRICT;"
      "CREATE TABLE o(k TEXT NOT NULL PRIMARY KEY, n) WITHOUT ROWID");
  D1Simulator d1;
  for (const char* name : {"w", "s", "o"}) createInD1(d1, read(local, name), name, D1Shape{});
  EXPECT_FALSE(d1.query("SELECT rowid FROM w").ok);
  EXPECT_FALSE(d1.query("SELECT rowid FROM o").ok);
  EXPECT_TRUE(d1.query("SELECT rowid FROM s").ok);
  EXPECT_FALSE(d1.batch({"INSERT INTO w VALUES ('a', 'not a number')"}).ok);
  EXPECT_FALSE(d1.batch({"INSERT INTO s VALUES (1, 'not a number')"}).ok);
  EXPECT_TRUE(d1.batch({"INSERT INTO o VALUES ('a', 'anything')"}).ok);
  EXPECT_EQ(one(d1.query("SELECT count(*) FROM pragma_table_list WHERE strict AND name IN "
                         "('w','s')")),
            "2");
  EXPECT_EQ(one(d1.query("SELECT count(*) FROM pragma_table_list WHERE wr AND name IN "
                         "('w','o')")),
            "2");
}

TEST(Ddl, OddIdentifiersSurvive) {
  SqliteLocal local(":memory:");
  local.run(R"sql(
    CREATE TABLE "we""ird tab"([sp ace] INTEGER PRIMARY KEY, `tick``s` TEXT, "ünï" TEXT,
                               "select" INT, 'str' TEXT COLLATE "NOCASE");
    CREATE INDEX "ix ""q""" ON "we""ird tab"("ünï", "select" DESC);
    CREATE UNIQUE INDEX [on] ON "we""ird tab"(`tick``s`);
  )sql");
  Table t = read(local, "we\"ird tab");
  D1Simulator d1;
  createInD1(d1, t, "we\"ird tab", D1Shape{});
  EXPECT_EQ(lines(d1.query("PRAGMA table_xinfo(\"we\"\"ird tab\")")),
            lines(local.exec("PRAGMA table_xinfo(\"we\"\"ird tab\")")));
  auto ix = d1Indexes(d1, "we\"ird tab");
  EXPECT_EQ(ix["ix \"q\""].columns, (std::vector<std::string>{"ünï", "select DESC"}));
  EXPECT_EQ(ix["on"].columns, (std::vector<std::string>{"tick`s"}));
  EXPECT_EQ(t.column("str")->collate, "NOCASE");
  // Under another D1 name (a rebuild's shadow table) the indexes follow the table.
  D1Shape tenant{SchemaMode::Replica, TenantSpec{"tenant id", "7", "INTEGER"}};
  D1Simulator d2;
  createInD1(d2, t, "_d1sync_new_we\"ird tab", tenant);
  auto ix2 = d1Indexes(d2, "_d1sync_new_we\"ird tab");
  EXPECT_EQ(ix2.size(), 2u);
  EXPECT_EQ(ix2["ix \"q\""].columns, (std::vector<std::string>{"tenant id", "ünï", "select DESC"}));
}

// A collation whose name needs quoting (a space, a keyword) reaches D1 quoted, on columns and
// on indexes alike.
TEST(Ddl, Issue10CollationNamesAreQuoted) {
  auto reverse = [](void*, int an, const void* a, int bn, const void* b) {
    std::string x(static_cast<const char*>(a), an), y(static_cast<const char*>(b), bn);
    return y.compare(x);
  };
  SqliteLocal local(":memory:");
  D1Simulator d1;
  for (sqlite3* db : {local.handle(), d1.handle()}) {
    ASSERT_EQ(sqlite3_create_collation(db, "rev erse", SQLITE_UTF8, nullptr, reverse), SQLITE_OK);
    ASSERT_EQ(sqlite3_create_collation(db, "select", SQLITE_UTF8, nullptr, reverse), SQLITE_OK);
  }
  local.run(R"sql(
    CREATE TABLE c(id INTEGER PRIMARY KEY, a TEXT COLLATE "rev erse", b TEXT, UNIQUE(b COLLATE "select"));
    CREATE INDEX c_a ON c(a COLLATE "select");
  )sql");
  Table t = read(local, "c");
  EXPECT_EQ(t.column("a")->collate, "rev erse");
  createInD1(d1, t, "c", D1Shape{});
  EXPECT_EQ(lines(d1.query("PRAGMA table_xinfo(c)")), lines(local.exec("PRAGMA table_xinfo(c)")));
  auto ix = d1Indexes(d1, "c");
  EXPECT_EQ(ix["c_a"].columns, (std::vector<std::string>{"a COLLATE select"}));
  EXPECT_EQ(ix["_d1sync_u1_c"].columns, (std::vector<std::string>{"b COLLATE select"}));
}

TEST(Ddl, DefaultsOfEveryKindExecuteAndGiveTheSameValues) {
  SqliteLocal local(":memory:");
  local.run(
      "CREATE TABLE dfl(id INTEGER PRIMARY KEY, b DEFAULT -1, c DEFAULT (abs(-3)), "
      "d DEFAULT 'x''y', e TEXT DEFAULT CURRENT_DATE, f DEFAULT X'00ff', "
      "g REAL DEFAULT 1e-5, h DEFAULT (1e+2), i DEFAULT ((1)+(2)), j DEFAULT NULL, "
      "k DEFAULT +7, l DEFAULT TRUE)");
  Table t = read(local, "dfl");
  D1Simulator d1;
  createInD1(d1, t, "dfl", D1Shape{});
  local.run("INSERT INTO dfl(id) VALUES (1)");
  ASSERT_TRUE(d1.batch({"INSERT INTO dfl(id) VALUES (1)"}).ok);
  const std::string q =
      "SELECT typeof(b), b, c, d, typeof(e), hex(f), g, h, i, j IS NULL, k, l "
      "FROM dfl";
  EXPECT_EQ(lines(d1.query(q)), lines(local.exec(q)));
  // The bare literals also work in ALTER TABLE ADD COLUMN, which refuses parentheses.
  ASSERT_TRUE(d1.batch({"CREATE TABLE alt(id INTEGER PRIMARY KEY)"}).ok);
  for (const char* name : {"b", "d", "f", "g", "h", "j", "k", "l"}) {
    auto r =
        d1.batch({"ALTER TABLE alt ADD COLUMN " + columnDefinition(*t.column(name), D1Shape{})});
    EXPECT_TRUE(r.ok) << name << ": " << r.failure.message;
  }
}

TEST(Ddl, HexDefaultWithAnEAndAPlusIsAnExpression) {
  // PRAGMA table_xinfo gives dflt_value "0xE+1" for DEFAULT (0xE+1); written back bare it is
  // a syntax error ("DEFAULT 0xE+1").
  SqliteLocal local(":memory:");
  local.run("CREATE TABLE hx(id INTEGER PRIMARY KEY, a INT DEFAULT (0xE+1))");
  Table t = read(local, "hx");
  D1Simulator d1;
  createInD1(d1, t, "hx", D1Shape{});
  ASSERT_TRUE(d1.batch({"INSERT INTO hx(id) VALUES (1)"}).ok);
  EXPECT_EQ(one(d1.query("SELECT a FROM hx")), "15");
}

TEST(Ddl, ShapeProblems) {
  SqliteLocal local(":memory:");
  std::string wide = "CREATE TABLE wide(id INTEGER PRIMARY KEY";
  for (int i = 1; i < 100; ++i) wide += ", c" + std::to_string(i);
  local.run(wide +
            "); CREATE TABLE ten(id INTEGER PRIMARY KEY, room TEXT);"
            "CREATE TABLE nokey(a, b)");
  D1Shape tenant{SchemaMode::Replica, TenantSpec{"room", "'r'", "TEXT"}};
  Table w = read(local, "wide");
  EXPECT_EQ(shapeProblem(w, D1Shape{}, 100), "");
  EXPECT_NE(shapeProblem(w, tenant, 100), "");
  EXPECT_NE(shapeProblem(read(local, "ten"), tenant, 100).find("room"), std::string::npos);
  EXPECT_EQ(shapeProblem(read(local, "nokey"), tenant, 100), "");
  D1Shape strictTenant{SchemaMode::Strict, TenantSpec{"tenant", "'r'", "TEXT"}};
  EXPECT_NE(shapeProblem(read(local, "nokey"), strictTenant, 100), "");
  // The wide table fits D1 without a tenant.
  D1Simulator d1;
  createInD1(d1, w, "wide", D1Shape{});
}

TEST(Ddl, DropIndexDdlNamesWhatCreateIndexDdlMade) {
  SqliteLocal local(":memory:");
  local.run(kUsers);
  Table t = read(local, "users");
  D1Simulator d1;
  createInD1(d1, t, "users", D1Shape{});
  ASSERT_EQ(d1Indexes(d1, "users").size(), 4u);
  auto r = d1.batch(dropIndexDdl(t));
  ASSERT_TRUE(r.ok) << r.failure.message;
  EXPECT_TRUE(d1Indexes(d1, "users").empty());
}

// ---------------------------------------------------------------------------------------------
// Capture: triggers writing the outbox

class CaptureDb {
 public:
  CaptureDb() : db(":memory:") { db.run(bookkeepingDdl()); }
  // Creates the tables in `sql`, then installs capture on `tables`.
  void setup(const std::string& sql, const std::vector<std::string>& tables) {
    db.run(sql);
    for (const auto& name : tables) {
      Table t = read(db, name);
      for (const auto& s : captureDdl(t, warnings)) db.run(s);
    }
  }
  // Outbox rows since the last call, as "tbl op key".
  std::vector<std::string> take() {
    // Rows since the last take(): the newest row outlives a delete (the high-water mark).
    auto r = db.exec("SELECT tbl, op, key, seq FROM _d1sync_log WHERE seq > " +
                     std::to_string(seen) + " ORDER BY seq");
    EXPECT_TRUE(r.ok) << r.error;
    std::vector<std::string> out;
    for (size_t i = 0; i < r.rows.size(); ++i)
      out.push_back(r.rows.at(i, 0) + " " + r.rows.at(i, 1) + " " + r.rows.at(i, 2));
    if (r.rows.size()) seen = std::stoll(r.rows.at(r.rows.size() - 1, 3));
    db.run("DELETE FROM _d1sync_log");
    return out;
  }
  SqliteLocal db;
  std::vector<std::string> warnings;
  int64_t seen = 0;
};

using Log = std::vector<std::string>;

bool contains(const Log& log, const std::string& row) {
  return std::find(log.begin(), log.end(), row) != log.end();
}

TEST(Capture, InsertUpdateDeleteAndKeyChanges) {
  CaptureDb c;
  c.setup("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INT)", {"items"});
  c.db.run("INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)");
  EXPECT_EQ(c.take(), (Log{"items I 1", "items I 2"}));
  c.db.run("UPDATE items SET qty = 5 WHERE id = 1");
  EXPECT_EQ(c.take(), (Log{"items U 1"}));
  c.db.run("UPDATE items SET id = 10 WHERE id = 1");
  EXPECT_EQ(c.take(), (Log{"items D 1", "items U 10"}));
  c.db.run("DELETE FROM items WHERE id = 2");
  EXPECT_EQ(c.take(), (Log{"items D 2"}));
  c.db.run("INSERT OR REPLACE INTO items VALUES (10, 'again', 0)");
  EXPECT_EQ(c.take(), (Log{"items I 10"}));
  // Timestamps are milliseconds since the epoch.
  c.db.run("INSERT INTO items VALUES (3, 'c', 3)");
  auto at = c.db.exec("SELECT at_ms FROM _d1sync_log WHERE key = '3'");
  ASSERT_EQ(at.rows.size(), 1u);
  EXPECT_GT(std::stoll(at.rows.at(0, 0)), 1600000000000LL);
  EXPECT_LT(std::stoll(at.rows.at(0, 0)), 4000000000000LL);
}

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Issue 14: every change reaches the outbox with its key and the time it was made, whatever
// names the key by: a rowid alias through its column or any of the rowid's three names, a
// rowid key through the names no column hides, a declared text key through its column.
TEST(Capture, Issue14EveryChangeIsLoggedWithItsKeyAndTime) {
  CaptureDb c;
  c.setup(
      "CREATE TABLE a(id INTEGER PRIMARY KEY, v);"
      "CREATE TABLE r(v TEXT);"
      "CREATE TABLE h(rowid TEXT, v);"  // the column hides one name of the rowid
      "CREATE TABLE t(k TEXT NOT NULL PRIMARY KEY, v)",
      {"a", "r", "h", "t"});
  struct Step {
    const char* sql;
    Log logged;
  };
  const std::vector<Step> steps = {
      {"INSERT INTO a VALUES (1, 'x'), (-9223372036854775808, 'min')",
       {"a I 1", "a I -9223372036854775808"}},
      {"UPDATE a SET v = 'y' WHERE id = 1", {"a U 1"}},
      {"UPDATE a SET id = 2 WHERE id = 1", {"a D 1", "a U 2"}},
      {"UPDATE a SET rowid = 3 WHERE id = 2", {"a D 2", "a U 3"}},
      {"UPDATE a SET OID = 4 WHERE id = 3", {"a D 3", "a U 4"}},
      {"UPDATE a SET \"_rowid_\" = 5, v = 'z' WHERE id = 4", {"a D 4", "a U 5"}},
      {"UPDATE a SET id = id, v = 'same key' WHERE id = 5", {"a U 5"}},
      {"DELETE FROM a WHERE id = 5", {"a D 5"}},
      {"INSERT INTO r VALUES ('x'), ('y')", {"r I 1", "r I 2"}},
      {"UPDATE r SET v = 'z' WHERE rowid = 1", {"r U 1"}},
      {"UPDATE r SET rowid = 10 WHERE rowid = 1", {"r D 1", "r U 10"}},
      {"UPDATE r SET oid = 11, v = 'w' WHERE rowid = 10", {"r D 10", "r U 11"}},
      {"UPDATE r SET _rowid_ = 12 WHERE rowid = 11", {"r D 11", "r U 12"}},
      {"DELETE FROM r WHERE rowid = 2", {"r D 2"}},
      {"INSERT INTO h VALUES ('x', 1)", {"h I 1"}},
      {"UPDATE h SET rowid = 'not the rowid'", {"h U 1"}},
      {"UPDATE h SET oid = 7", {"h D 1", "h U 7"}},
      {"UPDATE h SET _rowid_ = 8", {"h D 7", "h U 8"}},
      {"DELETE FROM h", {"h D 8"}},
      {"INSERT INTO t VALUES ('k''1', 1)", {"t I 'k''1'"}},
      {"UPDATE t SET v = 2", {"t U 'k''1'"}},
      {"UPDATE t SET k = 'k2'", {"t D 'k''1'", "t U 'k2'"}},
      {"UPDATE t SET rowid = 100", {"t U 'k2'"}},  // the rowid moves, the key does not
      {"DELETE FROM t", {"t D 'k2'"}},
  };
  for (const auto& step : steps) {
    SCOPED_TRACE(step.sql);
    const int64_t before = wallMs();
    c.db.run(step.sql);
    const int64_t after = wallMs();
    // Each row carries the time it was made: SQLite's clock, in whole milliseconds.
    auto at = c.db.exec("SELECT min(at_ms), max(at_ms) FROM _d1sync_log WHERE seq > " +
                        std::to_string(c.seen));
    ASSERT_TRUE(at.ok) << at.error;
    EXPECT_GE(std::stoll(at.rows.at(0, 0)), before - 1);
    EXPECT_LE(std::stoll(at.rows.at(0, 1)), after + 1);
    EXPECT_EQ(c.take(), step.logged);
  }
}

// A rowid key, an INTEGER PRIMARY KEY among them, is an integer: logged through CAST, with no
// typeof() to ask (capture.cpp: fewer function calls in the trigger).
TEST(Capture, Issue14IntegerKeysAreLoggedWithoutAskingTheirType) {
  CaptureDb c;
  c.setup(
      "CREATE TABLE a(id INTEGER PRIMARY KEY, v); CREATE TABLE r(v);"
      "CREATE TABLE w(id INTEGER PRIMARY KEY, v) WITHOUT ROWID",
      {"a", "r", "w"});
  std::vector<std::string> w;
  for (const char* name : {"a", "r"}) {
    for (const auto& ddl : captureDdl(read(c.db, name), w)) {
      EXPECT_EQ(ddl.find("typeof("), std::string::npos) << ddl;
      EXPECT_NE(ddl.find(" AS TEXT)"), std::string::npos) << ddl;
    }
  }
  // WITHOUT ROWID: an INTEGER column holds whatever it is given.
  EXPECT_NE(captureDdl(read(c.db, "w"), w)[0].find("typeof("), std::string::npos);
  c.db.run("INSERT INTO w VALUES ('text', 1), (1.5, 2), (3, 3)");
  EXPECT_EQ(c.take(), (Log{"w I 'text'", "w I 1500e-3", "w I 3"}));
}

TEST(Capture, SequenceNumbersNeverRepeatAfterTheOutboxEmpties) {
  CaptureDb c;
  c.setup("CREATE TABLE items(id INTEGER PRIMARY KEY, v)", {"items"});
  c.db.run("INSERT INTO items VALUES (1, 1), (2, 2), (3, 3)");
  auto max1 = std::stoll(one(c.db.exec("SELECT max(seq) FROM _d1sync_log")));
  c.db.run("DELETE FROM _d1sync_log");
  c.db.run("INSERT INTO items VALUES (4, 4)");
  auto next = std::stoll(one(c.db.exec("SELECT seq FROM _d1sync_log WHERE key = '4'")));
  EXPECT_GT(next, max1);
}

TEST(Capture, CompositeTextAndNulKeysAreLoggedAsLiterals) {
  CaptureDb c;
  c.setup(
      "CREATE TABLE p(a TEXT NOT NULL, b INTEGER NOT NULL, v, PRIMARY KEY(a, b));"
      "CREATE TABLE r(k REAL PRIMARY KEY, v) WITHOUT ROWID;"
      "CREATE TABLE n(v TEXT)",
      {"p", "r", "n"});
  c.db.run(
      "INSERT INTO p VALUES ('it''s, ok', -9223372036854775808, 1),"
      "('a'||char(0)||'b', 2, 2)");
  c.db.run("INSERT INTO r VALUES (0.1, 1), (1e308, 2), (2.2250738585072014e-308, 3), (9e999, 4)");
  c.db.run("INSERT INTO n VALUES ('x'), ('y')");
  Log log = c.take();
  ASSERT_EQ(log.size(), 8u);
  EXPECT_EQ(log[0], "p I 'it''s, ok',-9223372036854775808");
  EXPECT_EQ(log[1], "p I CAST(X'610062' AS TEXT),2");
  EXPECT_EQ(log[5], "r I 9e999");
  EXPECT_EQ(log[6], "n I 1");
  EXPECT_EQ(log[7], "n I 2");
  // Each logged key finds its own row again: the literals are exact.
  for (size_t i = 0; i < 2; ++i) {
    auto parts = splitKeyLiteral(log[i].substr(4));
    ASSERT_EQ(parts.size(), 2u) << log[i];
    EXPECT_EQ(one(c.db.exec("SELECT count(*) FROM p WHERE (a, b) = (" + parts[0] + ", " + parts[1] +
                            ")")),
              "1")
        << log[i];
  }
  for (size_t i = 2; i < 6; ++i)
    EXPECT_EQ(one(c.db.exec("SELECT count(*) FROM r WHERE k = " + log[i].substr(4))), "1")
        << log[i];
}

TEST(Capture, ReplaceVictimsThroughAUniqueIndexAreLogged) {
  CaptureDb c;
  c.setup("CREATE TABLE acct(id INTEGER PRIMARY KEY, email TEXT UNIQUE, v)", {"acct"});
  c.db.run("INSERT INTO acct VALUES (1, 'a', 0), (2, 'b', 0)");
  c.take();
  c.db.run("INSERT OR REPLACE INTO acct VALUES (3, 'a', 1)");
  EXPECT_EQ(one(c.db.exec("SELECT count(*) FROM acct WHERE id = 1")), "0");
  Log log = c.take();
  EXPECT_TRUE(contains(log, "acct R 1")) << ::testing::PrintToString(log);
  EXPECT_TRUE(contains(log, "acct I 3")) << ::testing::PrintToString(log);
  EXPECT_FALSE(contains(log, "acct R 2")) << ::testing::PrintToString(log);

  c.db.run("UPDATE OR REPLACE acct SET email = 'b' WHERE id = 3");
  EXPECT_EQ(one(c.db.exec("SELECT count(*) FROM acct WHERE id = 2")), "0");
  log = c.take();
  EXPECT_TRUE(contains(log, "acct R 2")) << ::testing::PrintToString(log);
  EXPECT_TRUE(contains(log, "acct U 3")) << ::testing::PrintToString(log);

  c.db.run("REPLACE INTO acct VALUES (3, 'c', 2)");
  log = c.take();
  EXPECT_TRUE(contains(log, "acct I 3")) << ::testing::PrintToString(log);
  // A plain insert without a conflict logs no victim.
  c.db.run("INSERT INTO acct VALUES (4, 'd', 0)");
  EXPECT_EQ(c.take(), (Log{"acct I 4"}));
}

TEST(Capture, ReplaceVictimsUnderACompositeNocaseUniqueConstraint) {
  CaptureDb c;
  c.setup(
      "CREATE TABLE m(id INTEGER PRIMARY KEY, a TEXT COLLATE NOCASE, b INT, UNIQUE(a, b));"
      "CREATE TABLE nk(k TEXT NOT NULL PRIMARY KEY, u INT UNIQUE)",
      {"m", "nk"});
  c.db.run("INSERT INTO m VALUES (1, 'x', 1), (2, 'x', 2); INSERT INTO nk VALUES ('q''1', 1)");
  c.take();
  c.db.run("INSERT OR REPLACE INTO m VALUES (3, 'X', 1)");
  Log log = c.take();
  EXPECT_TRUE(contains(log, "m R 1")) << ::testing::PrintToString(log);
  EXPECT_FALSE(contains(log, "m R 2")) << ::testing::PrintToString(log);
  c.db.run("INSERT OR REPLACE INTO nk VALUES ('other', 1)");
  log = c.take();
  EXPECT_TRUE(contains(log, "nk R 'q''1'")) << ::testing::PrintToString(log);
  EXPECT_TRUE(contains(log, "nk I 'other'")) << ::testing::PrintToString(log);
}

TEST(Capture, TriggerNamesWarningsIdempotenceAndDrop) {
  CaptureDb c;
  c.setup(
      "CREATE TABLE plain(id INTEGER PRIMARY KEY, v);"
      "CREATE TABLE uq(id INTEGER PRIMARY KEY, v UNIQUE);"
      "CREATE TABLE ex(id INTEGER PRIMARY KEY, name TEXT);"
      "CREATE UNIQUE INDEX ex_lower ON ex(lower(name))",
      {"plain", "uq", "ex"});
  auto installed = [&](const std::string& table) {
    std::set<std::string> out;
    auto r = c.db.exec("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=" +
                       quoteText(table));
    for (size_t i = 0; i < r.rows.size(); ++i) out.insert(r.rows.at(i, 0));
    return out;
  };
  for (const char* name : {"plain", "uq", "ex"}) {
    Table t = read(c.db, name);
    auto names = captureTriggerNames(t);
    EXPECT_EQ(installed(name), std::set<std::string>(names.begin(), names.end())) << name;
  }
  EXPECT_EQ(captureTriggerNames(read(c.db, "plain")).size(), 4u);
  EXPECT_EQ(captureTriggerNames(read(c.db, "uq")).size(), 6u);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("ex_lower"), std::string::npos);
  // Installing twice changes nothing and logs once.
  std::vector<std::string> w;
  for (const auto& s : captureDdl(read(c.db, "uq"), w)) c.db.run(s);
  c.db.run("INSERT INTO uq VALUES (1, 1)");
  EXPECT_EQ(c.take(), (Log{"uq I 1"}));
  for (const auto& s : dropCaptureDdl("uq")) c.db.run(s);
  EXPECT_TRUE(installed("uq").empty());
  c.db.run("INSERT INTO uq VALUES (2, 2)");
  EXPECT_TRUE(c.take().empty());
}

TEST(Capture, OddTableNamesAndRowidTables) {
  CaptureDb c;
  c.setup("CREATE TABLE \"we\"\"ird 'tab'\"(v TEXT UNIQUE)", {"we\"ird 'tab'"});
  c.db.run("INSERT INTO \"we\"\"ird 'tab'\" VALUES ('a'), ('b')");
  c.db.run("UPDATE \"we\"\"ird 'tab'\" SET v = 'c' WHERE v = 'a'");
  c.db.run("INSERT OR REPLACE INTO \"we\"\"ird 'tab'\" VALUES ('b')");
  Log log = c.take();
  EXPECT_TRUE(contains(log, "we\"ird 'tab' I 1")) << ::testing::PrintToString(log);
  EXPECT_TRUE(contains(log, "we\"ird 'tab' U 1")) << ::testing::PrintToString(log);
  EXPECT_TRUE(contains(log, "we\"ird 'tab' R 2")) << ::testing::PrintToString(log);
  EXPECT_TRUE(contains(log, "we\"ird 'tab' I 3")) << ::testing::PrintToString(log);
}

}  // namespace
}  // namespace d1sync::native

namespace d1sync {
namespace {

// Found by fuzz_sql_text: an unclosed CHECK parenthesis read past the token list.
TEST(Schema, RegressionUnclosedCheckParenthesisStaysInBounds) {
  Table t;
  t.columns.push_back({});
  t.columns.back().name = "a";
  parseCreateTable("CREATE TABLE t(a TEXT CHECK (a <> ''", t);
  ASSERT_EQ(t.columns[0].checks.size(), 1u);
  EXPECT_EQ(t.columns[0].checks[0], "CHECK (a <> ''");
  parseCreateTable("CREATE TABLE t(a AS (1 +", t);
  EXPECT_EQ(t.columns[0].generated, "1 +");
}

}  // namespace
}  // namespace d1sync
