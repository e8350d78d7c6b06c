#include "args.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

namespace d1sync::cli {
namespace {

const char* const kFooter = R"(Where D1 is:
  Remote (default): the D1 REST API. The database comes from --database (a name or an id) or
  from the project's wrangler configuration (--config, --binding); the account from
  CLOUDFLARE_ACCOUNT_ID (or the configuration's account_id) and the token from
  CLOUDFLARE_API_TOKEN, as wrangler reads them. The token is never printed.
  --local: wrangler's local D1 for the binding (what `wrangler dev` and
  `wrangler d1 execute DB --local` see), under .wrangler/state or --persist-to.

Exit codes:
  0 done / in sync    1 D1 is behind (status)    2 usage    3 the file (missing, not SQLite,
  corrupt, locked)    4 configuration (token, account, database, table; refused by the API)
  5 fenced (another source owns this data in D1)    6 D1 unavailable until --retry-for ran out
  (run again: it resumes)    7 D1's schema conflicts    8 internal    130 interrupted)";

void addCommon(CLI::App* c, Args& a) {
  c->add_option("file", a.file, "The SQLite database file")->required();
  c->add_option("--tables", a.tables, "Replicate only these tables (default: every table)")
      ->delimiter(',');
  c->add_option("--tenant", a.tenant,
                "column=value: D1 holds several sources' rows in shared tables, told apart by "
                "this column");
  c->add_option("--source-id", a.sourceId,
                "This source's name in D1 (default: the file's name without its extension)");
  c->add_flag("--dry-run", a.dryRun,
              "Print the plan (tables, rows, requests, bytes); send nothing");
  c->add_flag("--json", a.json, "Print one JSON document on stdout, for scripts");
  c->add_flag("-q,--quiet", a.quiet, "Print errors only");
  c->add_flag("-v,--verbose", a.verbose, "Print each request (twice: more)");
  c->add_option("--log", a.log,
                "Print the engine's events on stderr, one JSON line each: warn, info (batches, "
                "progress), debug (statement sizes) or off; never row values")
      ->check(CLI::IsMember({"off", "warn", "info", "debug"}))
      ->capture_default_str();
  c->add_flag("--local", a.local, "Use wrangler's local D1 instead of the REST API");
  c->add_option("--database", a.database, "The D1 database: its name or its id");
  c->add_option("--config", a.config, "The wrangler configuration file (default: ./wrangler.*)");
  c->add_option("--binding", a.binding, "The D1 binding in that configuration");
  c->add_option("--persist-to", a.persistTo,
                "--local: the directory wrangler persists to (default: .wrangler/state)");
  c->add_option("--api-url", a.apiUrl,
                "The API's base URL (default: $CLOUDFLARE_API_BASE_URL or "
                "https://api.cloudflare.com/client/v4)");
  c->add_option("--busy-timeout", a.busyTimeoutMs,
                "Milliseconds to wait for another writer of the file")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  c->add_option("--timeout", a.timeoutMs, "Milliseconds one request may take")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  c->add_option("--retry-for", a.retryForMs,
                "Milliseconds to keep retrying while D1 is unavailable before giving up")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  c->add_option("--rate", a.rate, "The API's request budget, requests/seconds")
      ->capture_default_str();
  c->footer(kFooter);
}

}  // namespace

bool parseRate(const std::string& text, int64_t& requests, int64_t& windowMs) {
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return false;
  for (size_t i = 0; i < text.size(); ++i)
    if (i != slash && (text[i] < '0' || text[i] > '9')) return false;
  if (slash > 9 || text.size() - slash - 1 > 9) return false;
  requests = std::stoll(text.substr(0, slash));
  windowMs = std::stoll(text.substr(slash + 1)) * 1000;
  return requests > 0 && windowMs > 0;
}

std::string tenantOption(const std::string& text, std::string& column, std::string& valueJson) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return "--tenant wants column=value (for example --tenant room_id=42), not '" + text + "'";
  column = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  bool integer = !value.empty() && value.size() < 19;
  for (size_t i = 0; i < value.size(); ++i)
    integer = integer && ((value[i] >= '0' && value[i] <= '9') ||
                          (i == 0 && value[i] == '-' && value.size() > 1));
  // "007" stays text: an integer tenant value has no leading zero.
  if (integer && value.size() > 1 && (value[0] == '0' || (value[0] == '-' && value[1] == '0')))
    integer = false;
  valueJson = integer ? value : nlohmann::json(value).dump();
  return "";
}

int parseArgs(int argc, const char* const* argv, Args& a, std::string& out, std::string& err) {
  CLI::App app{
      "d1sync: replicate a SQLite file into Cloudflare D1 and keep it there. The first push "
      "copies every table; later pushes send only what changed, exactly once, and resume "
      "where an interrupted push stopped.",
      "d1sync"};
  app.require_subcommand(1);
  app.footer(kFooter);
  CLI::App* push = app.add_subcommand(
      "push",
      "Send the file to D1. The first run installs change capture in the file (triggers and "
      "d1sync's own _d1sync_* tables), creates the tables in D1 and copies every row; later "
      "runs send what changed since. Interrupted (Ctrl-C, kill -9, network down), it resumes "
      "where it stopped, nothing lost or sent twice.");
  addCommon(push, a);
  push->add_flag("--check", a.check,
                 "Run PRAGMA quick_check first (always done on the first push)");
  push->add_flag("--snapshot", a.snapshot,
                 "Never write to the file (read-only files, databases other tools own): tables "
                 "D1 lacks are copied, and for the others the differing keys are found by "
                 "range fingerprints (as verify finds them) and only those rows sent. Each run "
                 "is a full comparison: about every row read once on both sides");
  push->add_flag("--takeover", a.takeover,
                 "This file replaces the database that owns this source in D1 (which is then "
                 "fenced); D1's rows for it are copied again from this file");
  CLI::App* pull = app.add_subcommand(
      "pull",
      "Fetch D1 into a new (or empty) file: the tables D1 holds (with --tenant, that tenant's "
      "rows only) and every value exact, integers beyond 2^53, REALs bit for bit, text with NUL "
      "bytes, blobs. The file then replicates as this source: the next push sends its changes. "
      "A pull that fails leaves no file behind.");
  addCommon(pull, a);
  pull->add_flag("--takeover", a.takeover,
                 "The file replaces the database that owns this source in D1 (which is then "
                 "fenced)");
  CLI::App* status = app.add_subcommand(
      "status",
      "Show the file's replication health (what push has sent, what is pending, the last "
      "error) and D1's watermark for it. Never writes to the file. Exit 0: D1 has everything; "
      "1: D1 is behind.");
  addCommon(status, a);
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Compare the file with D1 without moving its rows: once what is pending is sent (as push "
      "sends it), key ranges of about 1,000 rows are fingerprinted in SQL on both sides and the "
      "ranges that differ narrowed to their keys, which are printed with both sides' values. "
      "An equal table of n rows costs about n rows read in D1, in about 5 requests a table "
      "up to 2,000,000 rows, one per 200,000 rows beyond. Exit 0: "
      "equal; 1: D1 differs.");
  addCommon(verify, a);
  verify->add_flag("--repair", a.repair,
                   "Send the differing keys again (each as the file holds it now, or deleted "
                   "from D1 where the file has no such row), then verify again");
  verify
      ->add_option("--max-differences", a.maxDifferences,
                   "Keys to list before the rest is reported as differing ranges")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  std::ostringstream o, e;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& ex) {
    const int code = app.exit(ex, o, e);
    out = o.str();
    err = e.str();
    return code == 0 ? kOk : kUsage;
  }
  a.command = app.get_subcommands().front()->get_name();
  if (a.snapshot && a.dryRun) {
    err = "--dry-run plans a push through capture; it does not go with --snapshot\n";
    return kUsage;
  }
  int64_t r = 0, w = 0;
  if (!parseRate(a.rate, r, w)) {
    err = "--rate wants requests/seconds (for example 1200/300), not '" + a.rate + "'\n";
    return kUsage;
  }
  if (!a.tenant.empty()) {
    std::string column, value;
    if (auto m = tenantOption(a.tenant, column, value); !m.empty()) {
      err = m + "\n";
      return kUsage;
    }
  }
  return -1;
}

}  // namespace d1sync::cli
