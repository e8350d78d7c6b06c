// libFuzzer target: the sync endpoint (wasm/sync_endpoint.hpp) given what a client it does not
// trust may send. The first byte picks the operation, the rest is the body. Nothing crashes; a
// refusal is a 4xx JSON answer with an error code; anything it runs on D1 is one batch opened
// by the fence's guard and closed by its advance (an apply) or the fence's own statements
// (claim, takeover, probe), and no D1 answer, good or bad, makes it misbehave. A first byte
// of 4 (mod 5) feeds the body to the client's decoder of answers instead.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "sync_endpoint.hpp"
#include "sync_protocol.hpp"

namespace {

using namespace d1sync;

void check(bool ok) {
  if (!ok) std::abort();
}

SyncEndpoint& endpoint() {
  static SyncEndpoint* ep = [] {
    EndpointConfig c;
    c.tables = {"tasks", "notes"};
    c.tenantColumn = "user_id";
    c.requestBytes = 4096;
    c.rowsPerRequest = 50;
    auto* e = new SyncEndpoint(c);
    Rows schema;
    schema.columns = 2;
    schema.add("tasks");
    schema.add(
        "CREATE TABLE tasks(user_id TEXT NOT NULL, id INTEGER, title TEXT, PRIMARY "
        "KEY(user_id, id))");
    schema.add("notes");
    schema.add("CREATE TABLE notes(user_id TEXT NOT NULL, k TEXT, PRIMARY KEY(user_id, k))");
    e->setSchema(schema);
    return e;
  }();
  return *ep;
}

void checkAnswer(const EndpointStep& s) {
  check(s.status >= 200 && s.status < 600);
  auto body = nlohmann::json::parse(s.body, nullptr, false);
  check(body.is_object());
  if (s.status != 200) check(body["error"]["code"].is_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kOps[] = {"apply", "claim", "takeover", "probe", "other"};
  const std::string op = kOps[data[0] % 5];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (op == "other") {
    // The client's side: any answer, good or garbled, decodes to a result without crashing.
    for (const char* asked : {"apply", "claim", "takeover", "probe"})
      for (int status : {0, 200, 409, 503}) endpointAnswer(asked, status, body, 0);
    return 0;
  }
  SyncEndpoint& ep = endpoint();
  EndpointStep s = ep.begin(op, body, Caller{"dev-1", "'alice'"}, 1);
  if (s.kind == EndpointStep::Respond) {
    checkAnswer(s);
    check(s.status != 200);
    return 0;
  }
  check(!s.statements.empty());
  if (op == "apply") {
    check(s.statements.front().rfind("SELECT CASE WHEN", 0) == 0);
    check(s.statements.back().rfind("UPDATE _d1sync_sources", 0) == 0);
  }
  // D1 refusing it (each class in turn) or accepting it with no rows.
  BatchResult r = data[0] & 0x80 ? BatchResult::succeeded(0, {})
                                 : BatchResult::failed(0, D1Failure(data[0] % 7), "x");
  for (int round = 0; s.kind == EndpointStep::Run && round < 3; ++round)
    s = ep.resume(s.context, r, 2);
  if (s.kind == EndpointStep::Respond) checkAnswer(s);
  if (!ep.schemaKnown()) {  // a SCHEMA answer asks for D1's tables again
    Rows schema;
    schema.columns = 2;
    schema.add("tasks");
    schema.add(
        "CREATE TABLE tasks(user_id TEXT, id INTEGER, title TEXT, PRIMARY KEY(user_id, id))");
    ep.setSchema(schema);
  }
  return 0;
}
