#include "sync_endpoint.hpp"

#include <nlohmann/json.hpp>

#include "changeset.hpp"
#include "chunker.hpp"
#include "fence.hpp"
#include "json_fields.hpp"
#include "planner.hpp"
#include "sql_text.hpp"
#include "sync_protocol.hpp"

namespace d1sync {

using json = nlohmann::json;

namespace {

constexpr size_t kMaxIdBytes = 512;

EndpointStep respond(int status, json body, int retryAfterSeconds = 0) {
  EndpointStep s;
  s.kind = EndpointStep::Respond;
  s.status = status;
  s.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  s.retryAfterSeconds = retryAfterSeconds;
  return s;
}

EndpointStep refuse(int status, const std::string& code, const std::string& message,
                    json extra = json::object(), int retryAfterSeconds = 0) {
  json error = {{"code", code}, {"message", message}};
  for (auto& [k, v] : extra.items()) error[k] = v;
  return respond(status, json{{"error", error}}, retryAfterSeconds);
}

EndpointStep run(std::vector<std::string> statements, const json& context) {
  EndpointStep s;
  s.kind = EndpointStep::Run;
  s.statements = std::move(statements);
  s.context = context.dump();
  return s;
}

json rowJson(const SourceRow& r) {
  if (!r.present) return nullptr;
  return {{"incarnation", r.incarnation},
          {"epoch", r.epoch},
          {"applied", r.appliedSeq},
          {"last", r.lastBatch}};
}

FenceId fenceFor(const EndpointConfig& config, const Caller& caller,
                 const std::string& incarnation) {
  FenceId id;
  id.tenantColumn = config.tenantColumn.value_or("");
  id.tenantLiteral = caller.tenantLiteral;
  id.sourceId =
      "endpoint:" + id.tenantColumn + (id.tenantColumn.empty() ? "" : "=") + caller.tenantLiteral;
  id.incarnation = incarnation;
  return id;
}

json fenceJson(const FenceId& f) {
  return {{"source", f.sourceId},
          {"incarnation", f.incarnation},
          {"tenantColumn", f.tenantColumn},
          {"tenantLiteral", f.tenantLiteral}};
}

FenceId fenceOf(const json& j) {
  FenceId f;
  f.sourceId = textField(j, "source");
  f.incarnation = textField(j, "incarnation");
  f.tenantColumn = textField(j, "tenantColumn");
  f.tenantLiteral = textField(j, "tenantLiteral");
  return f;
}

// The caller may speak only for itself: its client id, and incarnations named after it.
std::string ownershipProblem(const Caller& caller, const std::string& sourceId,
                             const std::string& incarnation) {
  if (sourceId != caller.clientId)
    return "sourceId '" + sourceId + "' is not this client's ('" + caller.clientId + "')";
  const std::string prefix = caller.clientId + "/";
  if (incarnation.size() <= prefix.size() || incarnation.size() > kMaxIdBytes ||
      incarnation.compare(0, prefix.size(), prefix) != 0)
    return "incarnation must be '" + prefix + "<id>'";
  return {};
}

}  // namespace

std::string parseEndpointConfig(const std::string& text, EndpointConfig& out) {
  json j = parseJson(text);
  if (!j.is_object()) return "the endpoint's options are not a JSON object";
  auto tables = j.find("tables");
  if (tables == j.end() || !tables->is_array() || tables->empty())
    return "tables must be a non-empty array of table names (the allow-list)";
  for (const auto& t : *tables) {
    if (!t.is_string() || t.get<std::string>().empty())
      return "tables must hold non-empty table names";
    out.tables.push_back(t.get<std::string>());
  }
  if (auto c = j.find("tenantColumn"); c != j.end() && !c->is_null()) {
    if (!c->is_string() || c->get<std::string>().empty())
      return "tenantColumn must be a non-empty string";
    out.tenantColumn = c->get<std::string>();
  }
  if (auto l = j.find("limits"); l != j.end() && !l->is_null()) {
    if (!l->is_object()) return "limits must be an object";
    for (auto& [name, value] : l->items()) {
      size_t* field = name == "requestBytes"     ? &out.requestBytes
                      : name == "rowsPerRequest" ? &out.rowsPerRequest
                                                 : nullptr;
      if (!field) continue;  // requestsPerMinute is the host's
      if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
          value.get<int64_t>() > (int64_t{1} << 40))
        return "limits." + name + " must be a positive integer";
      *field = static_cast<size_t>(value.get<int64_t>());
    }
  }
  return {};
}

SyncEndpoint::SyncEndpoint(EndpointConfig config) : config_(std::move(config)) {}

std::string SyncEndpoint::schemaQuery() const {
  std::string names;
  for (const auto& t : config_.tables) names += (names.empty() ? "" : ",") + quoteText(t);
  return "SELECT name, sql FROM sqlite_master WHERE type='table' AND name IN (" + names + ")";
}

void SyncEndpoint::setSchema(const Rows& rows) {
  schema_.clear();
  for (size_t i = 0; i < rows.size() && rows.columns >= 2; ++i) {
    bool allowed = false;
    for (const auto& t : config_.tables) allowed = allowed || equalsNoCase(t, rows.at(i, 0));
    if (allowed && !rows.isNull(i, 1))
      schema_.push_back(Known{rows.at(i, 0), parseD1Table(rows.at(i, 1))});
  }
  schemaKnown_ = true;
}

const SyncEndpoint::Known* SyncEndpoint::known(std::string_view name) const {
  for (const auto& k : schema_)
    if (equalsNoCase(k.name, std::string(name))) return &k;
  return nullptr;
}

EndpointStep SyncEndpoint::begin(const std::string& op, std::string_view body, const Caller& caller,
                                 int64_t nowMs) {
  if (body.size() > config_.requestBytes)
    return refuse(413, "LIMIT",
                  "the request holds " + std::to_string(body.size()) + " bytes; this endpoint " +
                      "takes at most " + std::to_string(config_.requestBytes));
  if (op == sync_protocol::kApply) return apply(body, caller, nowMs);
  if (op == sync_protocol::kRead) return read(body, caller);
  if (op == sync_protocol::kClaim || op == sync_protocol::kTakeover || op == sync_protocol::kProbe)
    return control(op, body, caller, nowMs);
  return refuse(404, "BAD_REQUEST", "no such operation: '" + op + "'");
}

// Where a changeset's table lands: D1's own spelling of every name, after the table, each
// column and the key were matched against the allow-list and D1's schema. An empty shape and
// `refusal` set when they do not match.
std::optional<TargetShape> SyncEndpoint::shapeOf(const TableChanges& t, const Caller& caller,
                                                 EndpointStep& refusal) const {
  bool allowed = false;
  for (const auto& name : config_.tables) allowed = allowed || name == t.name;
  if (!allowed) {
    refusal = refuse(403, "FORBIDDEN", "table '" + t.name + "' is not one this endpoint accepts",
                     {{"table", t.name}});
    return std::nullopt;
  }
  const Known* k = known(t.name);
  if (!k) {
    refusal = refuse(422, "SCHEMA", "D1 has no table '" + t.name + "'", {{"table", t.name}});
    return std::nullopt;
  }
  TargetShape shape;
  shape.table = k->name;
  for (const auto& column : t.columns) {
    if (config_.tenantColumn && equalsNoCase(column, *config_.tenantColumn)) {
      refusal = refuse(403, "FORBIDDEN",
                       "column '" + column + "' of '" + t.name +
                           "' is the tenant column: the endpoint sets it from authentication",
                       {{"table", t.name}, {"column", column}});
      return std::nullopt;
    }
    const std::string* d1 = nullptr;
    for (const auto& c : k->table.columns)
      if (equalsNoCase(c, column)) d1 = &c;
    if (!d1) {
      refusal = refuse(422, "SCHEMA", "D1 table '" + k->name + "' has no column '" + column + "'",
                       {{"table", t.name}, {"column", column}});
      return std::nullopt;
    }
    shape.columns.push_back(*d1);
  }
  shape.keyColumns.assign(shape.columns.begin(),
                          shape.columns.begin() + static_cast<std::ptrdiff_t>(t.keyWidth));
  std::vector<std::string> d1Key;
  for (const auto& c : k->table.key)
    if (!config_.tenantColumn || !equalsNoCase(c, *config_.tenantColumn)) d1Key.push_back(c);
  if (!sameNames(shape.keyColumns, d1Key)) {
    std::string want;
    for (const auto& c : d1Key) want += (want.empty() ? "" : ", ") + c;
    refusal = refuse(422, "SCHEMA",
                     "the key of '" + t.name + "' is not D1's: D1's is (" + want + ")" +
                         (config_.tenantColumn ? " after the tenant column" : ""),
                     {{"table", t.name}});
    return std::nullopt;
  }
  if (config_.tenantColumn) {
    shape.tenantColumn = *config_.tenantColumn;
    shape.tenantLiteral = caller.tenantLiteral;
  }
  return shape;
}

// A changeset: decoded strictly, checked against the caller and the schema, planned and
// rendered as the engine would, between the guard and the advance of the caller's fence row.
EndpointStep SyncEndpoint::apply(std::string_view body, const Caller& caller, int64_t nowMs) {
  Changeset cs;
  ChangesetStatus st = decodeChangeset(body, cs);
  if (!st.ok())
    return refuse(400, "BAD_REQUEST", "not a changeset: " + st.message,
                  {{"offset", st.offset}, {"record", st.record}});
  const ChangesetHeader& h = cs.header;
  if (auto problem = ownershipProblem(caller, h.sourceId, h.incarnation); !problem.empty())
    return refuse(403, "FORBIDDEN", problem);
  size_t records = 0;
  for (const auto& t : cs.tables)
    records += t.rangeDeletes.size() + t.deletes.size() + t.upserts.size();
  if (records > config_.rowsPerRequest)
    return refuse(413, "LIMIT",
                  "the changeset holds " + std::to_string(records) +
                      " records; this endpoint takes at most " +
                      std::to_string(config_.rowsPerRequest) + " per request");
  std::vector<TargetShape> shapes;
  for (const auto& t : cs.tables) {
    EndpointStep refusal;
    auto shape = shapeOf(t, caller, refusal);
    if (!shape) return refusal;
    shapes.push_back(std::move(*shape));
  }
  FenceId fence = fenceFor(config_, caller, h.incarnation);
  Chunker chunker(config_.limits);
  Planner planner(config_.limits, chunker);
  std::vector<std::string> statements;
  statements.push_back(guardStatement(fence, h.epoch, h.appliedSeq, h.lastBatch));
  for (const Job& job : planner.plan(cs, shapes))
    for (auto& s : planner.render(job, cs, shapes)) statements.push_back(std::move(s));
  statements.push_back(advanceStatement(fence, h.uptoSeq, h.batchId, nowMs));
  json context = {{"op", sync_protocol::kApply}, {"stage", "batch"},
                  {"fence", fenceJson(fence)},   {"epoch", h.epoch},
                  {"applied", h.appliedSeq},     {"last", h.lastBatch},
                  {"upto", h.uptoSeq},           {"batch", h.batchId}};
  // A request of one row or delete: a constraint failure names its table and key.
  if (records == 1) {
    Job all;
    for (const Job& job : planner.plan(cs, shapes))
      for (const Slice& s : job.slices) all.slices.push_back(s);
    if (auto lone = loneRecord(all, cs)) {
      context["table"] = lone->table;
      context["key"] = lone->key;
    }
  }
  return run(std::move(statements), context);
}

// claim, takeover, probe: the fence statements of the engine's own flights, for the caller's
// partition and incarnation.
EndpointStep SyncEndpoint::control(const std::string& op, std::string_view body,
                                   const Caller& caller, int64_t nowMs) {
  json j = parseJson(body);
  if (!j.is_object() || intField(j, "v", 0) != 1)
    return refuse(400, "BAD_REQUEST", "a " + op + " request is a JSON object with \"v\":1");
  const bool probe = op == sync_protocol::kProbe;
  const bool takeover = op == sync_protocol::kTakeover;
  for (auto& [key, value] : j.items()) {
    const bool known = key == "v" || key == "sourceId" ||
                       (!probe && (key == "incarnation" || key == "applied" || key == "mark")) ||
                       (takeover && key == "theirs");
    if (!known) return refuse(400, "BAD_REQUEST", "unknown field '" + key + "' in " + op);
  }
  auto text = [&](const json& o, const char* k) -> std::optional<std::string> {
    auto it = o.find(k);
    if (it == o.end() || !it->is_string() || it->get<std::string>().empty() ||
        it->get<std::string>().size() > kMaxIdBytes)
      return std::nullopt;
    return it->get<std::string>();
  };
  auto sourceId = text(j, "sourceId");
  if (!sourceId) return refuse(400, "BAD_REQUEST", op + ": sourceId must be a short string");
  if (probe) {
    if (*sourceId != caller.clientId)
      return refuse(403, "FORBIDDEN", "sourceId '" + *sourceId + "' is not this client's");
    FenceId fence = fenceFor(config_, caller, "");
    return run({sourceRowQuery(fence)}, {{"op", op}});
  }
  auto incarnation = text(j, "incarnation");
  auto mark = text(j, "mark");
  auto applied = j.find("applied");
  if (!incarnation || !mark || applied == j.end() || !applied->is_number_integer() ||
      applied->get<int64_t>() < 0)
    return refuse(400, "BAD_REQUEST",
                  op + " needs incarnation and mark (short strings) and applied (an integer >= 0)");
  if (auto problem = ownershipProblem(caller, *sourceId, *incarnation); !problem.empty())
    return refuse(403, "FORBIDDEN", problem);
  FenceId fence = fenceFor(config_, caller, *incarnation);
  if (!takeover)
    return run(claimStatements(fence, applied->get<int64_t>(), *mark, nowMs), {{"op", op}});
  json theirs = j["theirs"];
  SourceRow row;
  if (!theirs.is_object() || !text(theirs, "incarnation") || !theirs.contains("epoch") ||
      !theirs["epoch"].is_number_integer())
    return refuse(400, "BAD_REQUEST", "takeover needs theirs: {incarnation, epoch}");
  row.incarnation = *text(theirs, "incarnation");
  row.epoch = theirs["epoch"].get<int64_t>();
  return run(takeoverStatements(fence, row, applied->get<int64_t>(), *mark, nowMs), {{"op", op}});
}

EndpointStep SyncEndpoint::resume(const std::string& context, const BatchResult& r, int64_t nowMs) {
  json c = parseJson(context);
  const std::string op = c.is_object() ? textField(c, "op") : "";
  if (!r.ok) return failed(r, context);
  if (op == sync_protocol::kClaim && r.results.size() > kClaimTablesStatement) {
    Rows allowed;
    allowed.columns = 2;
    json tables = json::array();
    const Rows& all = r.results[kClaimTablesStatement];
    for (size_t i = 0; i < all.size(); ++i) {
      for (const auto& t : config_.tables) {
        if (!equalsNoCase(t, all.at(i, 0)) || all.isNull(i, 1)) continue;
        tables.push_back({all.at(i, 0), all.at(i, 1)});
        allowed.add(all.at(i, 0));
        allowed.add(all.at(i, 1));
      }
    }
    setSchema(allowed);  // the claim read D1's schema anyway
    const Rows& owner = r.results[kClaimTenantStatement];
    return respond(
        200,
        {{"row", rowJson(parseSourceRow(r.results[kClaimRowStatement]))},
         {"owner", owner.size() ? json(owner.at(0, 0)) : json(nullptr)},
         {"tenantColumn", config_.tenantColumn ? json(*config_.tenantColumn) : json(nullptr)},
         {"tables", tables},
         {"limits",
          {{"requestBytes", config_.requestBytes}, {"rowsPerRequest", config_.rowsPerRequest}}}});
  }
  if (op == sync_protocol::kRead && !r.results.empty()) {
    // Every read's rows, each cell as text; the guard's result (the first) is left out.
    json results = json::array();
    for (size_t i = 1; i < r.results.size(); ++i) {
      const Rows& rows = r.results[i];
      json list = json::array();
      for (size_t row = 0; row < rows.size(); ++row) {
        json cells = json::array();
        for (size_t c = 0; c < rows.columns; ++c)
          cells.push_back(rows.isNull(row, c) ? json(nullptr) : json(rows.at(row, c)));
        list.push_back(std::move(cells));
      }
      results.push_back(std::move(list));
    }
    return respond(200, {{"results", results}, {"rowsRead", r.rowsRead}});
  }
  if ((op == sync_protocol::kTakeover || op == sync_protocol::kProbe) && !r.results.empty())
    return respond(200, {{"row", rowJson(parseSourceRow(r.results.back()))}});
  if (op == sync_protocol::kApply && textField(c, "stage") == "batch")
    return respond(200, {{"applied", true},
                         {"replayed", false},
                         {"rowsRead", r.rowsRead},
                         {"rowsWritten", r.rowsWritten}});
  if (op == sync_protocol::kApply && !r.results.empty()) {
    // The guard refused the batch: tell a resend of a committed batch from a gap or a fence.
    SourceRow row = parseSourceRow(r.results.back());
    const std::string incarnation = textField(jsonField(c, "fence"), "incarnation");
    if (row.present && row.incarnation == incarnation && row.lastBatch == textField(c, "batch") &&
        row.appliedSeq == intField(c, "upto", -1))
      return respond(200,
                     {{"applied", true}, {"replayed", true}, {"rowsRead", 0}, {"rowsWritten", 0}});
    json where = {{"applied", row.present ? json(row.appliedSeq) : json(nullptr)},
                  {"last", row.present ? json(row.lastBatch) : json(nullptr)}};
    if (!row.present || row.incarnation != incarnation || row.epoch != intField(c, "epoch", -1))
      return refuse(409, "FENCED",
                    row.present ? "another source owns this tenant partition now (incarnation " +
                                      row.incarnation + ", epoch " + std::to_string(row.epoch) + ")"
                                : "this client has not claimed its tenant partition",
                    where);
    return refuse(409, "FENCED",
                  "D1 holds applied " + std::to_string(row.appliedSeq) + " / last '" +
                      row.lastBatch + "', the batch expected " +
                      std::to_string(intField(c, "applied", -1)) + " / '" + textField(c, "last") +
                      "'",
                  where);
  }
  return refuse(500, "INTERNAL", "D1 answered " + op + " with too few results");
}

EndpointStep SyncEndpoint::failed(const BatchResult& r, const std::string& context) {
  json c = parseJson(context);
  const std::string& message = r.failure.message;
  switch (r.failure.kind) {
    case D1Failure::Fenced:
      if (c.is_object() && textField(c, "op") == sync_protocol::kApply &&
          textField(c, "stage") == "batch") {
        c["stage"] = "classify";
        return run({sourceRowQuery(fenceOf(jsonField(c, "fence")))}, c);
      }
      return refuse(409, "FENCED", message);
    case D1Failure::Transient:
      return refuse(503, "TRANSIENT", message, json::object(), 1);
    case D1Failure::Limit:
      return refuse(413, "LIMIT", message);
    case D1Failure::Schema:
      schemaKnown_ = false;  // D1's tables changed under us: read them again
      return refuse(422, "SCHEMA", message);
    case D1Failure::Row:
    case D1Failure::DeferredFk: {
      json where = json::object();
      if (jsonField(c, "key").is_string())
        where = {{"table", textField(c, "table")}, {"key", textField(c, "key")}};
      return refuse(422, "ROW", message, where);
    }
    case D1Failure::Other:
    case D1Failure::Refused:
      break;
  }
  return refuse(500, "INTERNAL", message);
}

}  // namespace d1sync
