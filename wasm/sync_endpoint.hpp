// The Worker side of the sync protocol (sync_protocol.hpp): the engine's D1 half serving
// clients it does not trust. A request's body is data: a JSON control message or a changeset
// checked by the strict decoder; tables and columns are matched byte for byte against the
// allow-list and D1's own schema before a name reaches SQL; the tenant is the one
// authenticate() gave the host, never one the client sent.
//
//   SyncEndpoint ep(config);                 // one per isolate: it caches D1's schema
//   if (!ep.schemaKnown()) host runs ep.schemaQuery() on D1 and calls ep.setSchema(rows)
//   EndpointStep s = ep.begin(op, body, caller, now);
//   while (s.kind == EndpointStep::Run)      // one atomic D1 batch each
//     s = ep.resume(s.context, host runs s.statements -> BatchResult, now);
//   host answers HTTP s.status with s.body (and Retry-After: s.retryAfterSeconds when > 0)
//
// The object holds nothing per request (a step's context does), so one endpoint serves an
// isolate's concurrent requests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "changeset.hpp"
#include "chunker.hpp"
#include "d1_tables.hpp"
#include "host.hpp"
#include "limits.hpp"
#include "target.hpp"

namespace d1sync {

struct EndpointConfig {
  std::vector<std::string> tables;  // the allow-list, exact names
  std::optional<std::string> tenantColumn;
  size_t requestBytes = 1 << 20;  // largest request body (the host enforces it too)
  size_t rowsPerRequest = 10000;  // records (upserts, deletes, range deletes) per apply
  Limits limits;                  // D1's limits, for planning the statements
};

// Parses {tables, tenantColumn, limits: {requestBytes, rowsPerRequest}}; an error message, empty
// on success.
std::string parseEndpointConfig(const std::string& json, EndpointConfig& out);

// Who is calling, as authenticate() said.
struct Caller {
  std::string clientId;
  std::string tenantLiteral;  // the tenant as an SQL literal; empty without a tenant column
};

struct EndpointStep {
  enum Kind { Run, Respond } kind = Respond;
  std::vector<std::string> statements;  // Run
  std::string context;                  // Run: handed back to resume()
  int status = 200;                     // Respond
  std::string body;                     // Respond: JSON
  int retryAfterSeconds = 0;            // Respond: > 0 for 429 and 503
};

class SyncEndpoint {
 public:
  explicit SyncEndpoint(EndpointConfig config);

  // The query whose rows (name, sql) setSchema() takes: D1's allowed tables.
  std::string schemaQuery() const;
  void setSchema(const Rows& rows);
  // False until setSchema(), and again after D1 answered as if its schema changed.
  bool schemaKnown() const { return schemaKnown_; }
  const EndpointConfig& config() const { return config_; }

  EndpointStep begin(const std::string& op, std::string_view body, const Caller& caller,
                     int64_t nowMs);
  EndpointStep resume(const std::string& context, const BatchResult& result, int64_t nowMs);

 private:
  struct Known {
    std::string name;
    D1Table table;
  };
  const Known* known(std::string_view name) const;
  std::optional<TargetShape> shapeOf(const TableChanges& t, const Caller& caller,
                                     EndpointStep& refusal) const;
  EndpointStep apply(std::string_view body, const Caller& caller, int64_t nowMs);
  EndpointStep control(const std::string& op, std::string_view body, const Caller& caller,
                       int64_t nowMs);
  // sync_endpoint_read.cpp: hydrate's and verify's reads of the caller's partition.
  EndpointStep read(std::string_view body, const Caller& caller);
  std::optional<std::string> readStatement(const std::string& j, const Caller& caller,
                                           EndpointStep& refusal) const;
  EndpointStep failed(const BatchResult& result, const std::string& context);

  EndpointConfig config_;
  std::vector<Known> schema_;
  bool schemaKnown_ = false;
};

}  // namespace d1sync
