// Exports the sync endpoint (wasm/sync_endpoint.hpp) to JS, for createSyncEndpoint(). Like the
// engine's bindings: bulk data crosses as strings or views of WASM memory, errors as values.
//
// OWNERSHIP: `new Module.SyncEndpoint(configJson)` is a CONSTRUCTOR; the JS caller keeps one per
// isolate for its life (it caches D1's schema) and never needs to free it.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "js_results.hpp"
#include "json_fields.hpp"
#include "rows_codec.hpp"
#include "sql_text.hpp"
#include "sync_endpoint.hpp"

namespace d1sync::wasm {

using emscripten::val;

struct EndpointStepOut {
  std::string kind;                   // run | respond
  val statements = val::undefined();  // run: encodeStatements() as UTF-8, a view: decode at once
  std::string context;                // run: hand back to resume()
  int status = 0;                     // respond
  std::string body;                   // respond: JSON
  int retryAfter = 0;                 // respond: seconds, 0 for none
};

class EndpointHandle {
 public:
  explicit EndpointHandle(const std::string& configJson) {
    EndpointConfig config;
    configError_ = parseEndpointConfig(configJson, config);
    endpoint_ = std::make_unique<SyncEndpoint>(std::move(config));
  }
  std::string configError() const { return configError_; }
  std::string schemaQuery() const { return endpoint_->schemaQuery(); }
  bool schemaKnown() const { return endpoint_->schemaKnown(); }
  void setSchema(double columns, const std::string& cells) {
    Rows rows;
    decodeRows(static_cast<size_t>(columns), cells, rows);
    endpoint_->setSchema(rows);
  }
  // Room for a request body of `bytes` bytes, which JS copies in before begin().
  val bodyBuffer(double bytes) {
    body_.assign(static_cast<size_t>(bytes), '\0');
    return val(emscripten::typed_memory_view(body_.size(),
                                             reinterpret_cast<unsigned char*>(body_.data())));
  }
  // `tenantJson`: the tenant authenticate() gave, as JSON (a string or an integer), or "null".
  EndpointStepOut begin(const std::string& op, const std::string& clientId,
                        const std::string& tenantJson, double now) {
    Caller caller;
    caller.clientId = clientId;
    auto tenant = parseJson(tenantJson);
    if (tenant.is_string())
      caller.tenantLiteral = quoteText(tenant.get<std::string>());
    else if (tenant.is_number_integer())
      caller.tenantLiteral = std::to_string(tenant.get<int64_t>());
    std::string body = std::move(body_);
    body_.clear();
    return out(endpoint_->begin(op, body, caller, static_cast<int64_t>(now)));
  }
  // D1's answer to a run step: `results` as a target's batch() gives them, or its error text.
  EndpointStepOut resume(const std::string& context, bool ok, const std::string& error, val results,
                         double now) {
    BatchResult r;
    r.ok = ok;
    if (ok) {
      readResults(results, r);
    } else {
      r.failure.kind = classifyD1Error(error);
      r.failure.message = error;
    }
    return out(endpoint_->resume(context, r, static_cast<int64_t>(now)));
  }

 private:
  EndpointStepOut out(EndpointStep s) {
    EndpointStepOut o;
    o.kind = s.kind == EndpointStep::Run ? "run" : "respond";
    if (s.kind == EndpointStep::Run) {
      sent_ = encodeStatements(s.statements);
      o.statements = val(emscripten::typed_memory_view(
          sent_.size(), reinterpret_cast<const unsigned char*>(sent_.data())));
    }
    o.context = std::move(s.context);
    o.status = s.status;
    o.body = std::move(s.body);
    o.retryAfter = s.retryAfterSeconds;
    return o;
  }
  std::string configError_;
  std::unique_ptr<SyncEndpoint> endpoint_;
  std::string body_;  // the next request's body
  std::string sent_;  // the statements of the last run step, viewed by JS
};

EMSCRIPTEN_BINDINGS(d1sync_endpoint) {
  emscripten::value_object<EndpointStepOut>("EndpointStep")
      .field("kind", &EndpointStepOut::kind)
      .field("statements", &EndpointStepOut::statements)
      .field("context", &EndpointStepOut::context)
      .field("status", &EndpointStepOut::status)
      .field("body", &EndpointStepOut::body)
      .field("retryAfter", &EndpointStepOut::retryAfter);
  emscripten::class_<EndpointHandle>("SyncEndpoint")
      .constructor<std::string>()
      .function("configError", &EndpointHandle::configError)
      .function("schemaQuery", &EndpointHandle::schemaQuery)
      .function("schemaKnown", &EndpointHandle::schemaKnown)
      .function("setSchema", &EndpointHandle::setSchema)
      .function("bodyBuffer", &EndpointHandle::bodyBuffer)
      .function("begin", &EndpointHandle::begin)
      .function("resume", &EndpointHandle::resume);
}

}  // namespace d1sync::wasm
