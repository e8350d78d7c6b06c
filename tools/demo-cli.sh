#!/usr/bin/env bash
# The command line's part of the main job: a SQLite file pushed into wrangler's local D1 with
# `d1sync push --local`, changed, pushed again (only the change travels), checked with
# `d1sync status`, and read back with `wrangler d1 execute --local`. Runs in .wrangler/demo-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
d1sync=$root/build/d1sync
work=$root/.wrangler/demo-cli
rm -rf "$work"
mkdir -p "$work"
cd "$work"
cat > wrangler.toml <<'TOML'
name = "d1sync-cli-demo"
compatibility_date = "2026-04-26"

[[d1_databases]]
binding = "DB"
database_name = "cli-demo"
database_id = "6f1c1a52-3d6e-4a53-9c1e-2f0b8d1e7a10"
TOML
sqlite3 app.sqlite <<'SQL'
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance REAL, avatar BLOB);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                    total INTEGER, note TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<20000)
  INSERT INTO customers SELECT i, 'customer ' || i, i * 1.25, randomblob(8) FROM c;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<50000)
  INSERT INTO orders SELECT i, 1 + i % 20000, i * 7, CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END FROM c;
SQL
wrangler() { "$root/node_modules/.bin/wrangler" "$@"; }
echo "== d1sync push app.sqlite --local --dry-run"
"$d1sync" push app.sqlite --local --dry-run
echo "== d1sync push app.sqlite --local"
"$d1sync" push app.sqlite --local
sqlite3 app.sqlite "UPDATE orders SET total = total + 1 WHERE id <= 250; DELETE FROM orders WHERE id > 49990;"
echo "== d1sync status app.sqlite --local   (after changing 260 rows)"
"$d1sync" status app.sqlite --local || true
echo "== d1sync push app.sqlite --local     (ships only the change)"
"$d1sync" push app.sqlite --local
"$d1sync" status app.sqlite --local
echo "== wrangler d1 execute DB --local: what D1 holds, and the file"
WRANGLER_SEND_METRICS=false wrangler d1 execute DB --local --json \
  --command "SELECT count(*) AS orders, sum(total) AS total FROM orders" 2>/dev/null |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log("   D1:  ",JSON.stringify(JSON.parse(s)[0].results[0])))'
echo "   file: $(sqlite3 -json app.sqlite 'SELECT count(*) AS orders, sum(total) AS total FROM orders')"
