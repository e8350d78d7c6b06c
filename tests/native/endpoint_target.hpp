// The sync endpoint as a native Target: an engine in remote mode talks to a SyncEndpoint in
// process, whose D1 is a D1 simulator (faults injected there hit the endpoint's batches). What
// the JS pair httpTarget() / createSyncEndpoint() does over HTTP, without the HTTP.
#pragma once

#include "d1_simulator.hpp"
#include "sync_endpoint.hpp"
#include "sync_protocol.hpp"
#include "target.hpp"

namespace d1sync::native {

class EndpointTarget final : public Target {
 public:
  EndpointTarget(SyncEndpoint& endpoint, D1Simulator& d1, Caller caller)
      : endpoint_(endpoint), d1_(d1), caller_(std::move(caller)) {}

  BatchResult apply(const Batch& batch) override {
    if (!endpoint_.schemaKnown()) {
      BatchResult schema = d1_.batch({endpoint_.schemaQuery()});
      if (schema.ok) endpoint_.setSchema(schema.results.at(0));
    }
    EndpointStep s = endpoint_.begin(batch.op, batch.request, caller_, ++now_);
    while (s.kind == EndpointStep::Run)
      s = endpoint_.resume(s.context, d1_.apply({0, s.statements}), now_);
    last = s;
    BatchResult r = endpointAnswer(batch.op, s.status, s.body, s.retryAfterSeconds * 1000);
    r.id = batch.id;
    return r;
  }
  EndpointStep last;  // the endpoint's last answer

 private:
  SyncEndpoint& endpoint_;
  D1Simulator& d1_;
  Caller caller_;
  int64_t now_ = 0;
};

}  // namespace d1sync::native
