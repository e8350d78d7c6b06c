// Native demo of the engine: a local .sqlite file replicated into the D1 simulator (a second
// SQLite file with D1's limits), then live changes streamed, with health() and a D1 query.
//   d1sync_demo <local.sqlite> <d1.sqlite>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "driver.hpp"

using namespace d1sync;
using namespace d1sync::native;

namespace {

void show(const char* title, D1Simulator& d1, const std::string& sql) {
  auto r = d1.query(sql);
  std::printf("%s\n  %s\n", title, sql.c_str());
  if (!r.ok) {
    std::printf("  error: %s\n", r.error.c_str());
    return;
  }
  for (size_t i = 0; i < r.rows.size(); ++i) {
    std::printf("  ");
    for (size_t c = 0; c < r.rows.columns; ++c)
      std::printf("%s%s", c ? " | " : "", r.rows.isNull(i, c) ? "NULL" : r.rows.at(i, c).c_str());
    std::printf("\n");
  }
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string localPath = argc > 1 ? argv[1] : "demo-local.sqlite";
  std::string d1Path = argc > 2 ? argv[2] : "demo-d1.sqlite";
  std::filesystem::remove(localPath);
  std::filesystem::remove(d1Path);
  SqliteLocal local(localPath);
  D1Simulator d1(d1Path);

  local.run(R"sql(
    CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0,
                       estimate REAL, attachment BLOB);
    CREATE INDEX tasks_done ON tasks(done);
    CREATE TABLE comments(task_id INTEGER NOT NULL, n INTEGER NOT NULL, body TEXT,
                          PRIMARY KEY(task_id, n)) WITHOUT ROWID;
    BEGIN;
    WITH RECURSIVE r(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM r WHERE i < 20000)
      INSERT INTO tasks(id, title, estimate, attachment)
      SELECT i, 'task ' || i, i / 7.0, randomblob(32) FROM r;
    WITH RECURSIVE r(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM r WHERE i < 5000)
      INSERT INTO comments SELECT i, 1, 'it''s comment ' || i || char(0) || 'with a NUL' FROM r;
    COMMIT;
  )sql");

  Options o;
  o.sourceId = "demo";
  o.seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  Driver driver(local, d1, o);

  auto t0 = std::chrono::steady_clock::now();
  Step s = driver.run();
  if (s.kind != Step::Idle) {
    std::fprintf(stderr, "initial sync failed: %s: %s\n", codeName(s.code), s.message.c_str());
    return 1;
  }
  std::printf("initial sync of 25,000 rows: %.3f s, %zu D1 batches\n", seconds(t0), d1.batches);

  local.run(R"sql(
    UPDATE tasks SET done = 1 WHERE id % 3 = 0;
    DELETE FROM tasks WHERE id > 19900;
    INSERT INTO tasks(id, title, estimate) VALUES (30000, 'added after the copy', 1e308);
    UPDATE comments SET body = 'edited' WHERE task_id <= 10;
  )sql");
  size_t before = d1.batches;
  t0 = std::chrono::steady_clock::now();
  s = driver.run();
  if (s.kind != Step::Idle) {
    std::fprintf(stderr, "streaming failed: %s: %s\n", codeName(s.code), s.message.c_str());
    return 1;
  }
  std::printf("streamed the changes: %.3f s, %zu D1 batches\n\n", seconds(t0), d1.batches - before);
  std::printf("health():\n  %s\n\n", driver.engine().healthJson(driver.now()).c_str());
  show("D1 query:", d1,
       "SELECT count(*) AS tasks, sum(done) AS done, max(estimate) AS max_estimate FROM tasks");
  for (const char* t : {"tasks", "comments"}) {
    std::string diff = diffTable(local.handle(), d1.handle(), t);
    std::printf("%s: %s\n", t,
                diff.empty() ? "D1 equals the local table, row for row" : diff.c_str());
    if (!diff.empty()) return 1;
  }
  std::printf("\nlocal database: %s\nD1 (simulator): %s\n", localPath.c_str(), d1Path.c_str());
  return 0;
}
