// Exports the engine to JS (the sync endpoint has its own, endpoint_bindings.cpp). Each method
// delegates in a few lines; bulk data crosses as strings in the format of wasm/rows_codec.hpp,
// errors as a status, never as C++ exceptions.
//
// OWNERSHIP: `new Module.Engine(source, optionsJson)` is a CONSTRUCTOR; the JS caller owns the
// handle and must call .delete() (the package's Replicator.close() does). The handle keeps a
// reference to `source` (an object with exec(sql) -> {ok, error, columns, cells}) for its life.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <memory>
#include <string>

#include "engine.hpp"
#include "js_results.hpp"
#include "rows_codec.hpp"
#include "sync_endpoint.hpp"
#include "sync_protocol.hpp"

namespace d1sync::wasm {

using emscripten::val;

// A JS string as UTF-8, written by TextEncoder.encodeInto straight into the std::string's
// buffer. Embind's own conversion walks every character in JS, which for a page of several
// megabytes costs more than everything the engine then does with it.
std::string utf8Of(const val& text) {
  static const val encoder = val::global("TextEncoder").new_();
  const size_t units = text["length"].as<size_t>();
  std::string out(units + 8, '\0');  // exact for ASCII; grown when a character needs more
  size_t read = 0, written = 0;
  val rest = text;
  for (;;) {
    val view(emscripten::typed_memory_view(out.size() - written,
                                           reinterpret_cast<unsigned char*>(&out[written])));
    val r = encoder.call<val>("encodeInto", rest, view);
    read += r["read"].as<size_t>();
    written += r["written"].as<size_t>();
    if (read >= units) break;
    rest = text.call<val>("substring", read);
    out.resize(written + 3 * (units - read) + 8);
  }
  out.resize(written);
  return out;
}

class JsLocalDb final : public LocalDb {
 public:
  explicit JsLocalDb(val source) : source_(std::move(source)) {}
  QueryResult exec(const std::string& sql) override {
    val r = source_.call<val>("exec", sql);
    QueryResult out;
    out.ok = r["ok"].as<bool>();
    if (!out.ok) {
      out.error = r["error"].as<std::string>();
      return out;
    }
    if (!decodeRows(r["columns"].as<size_t>(), utf8Of(r["cells"]), out.rows)) {
      out.ok = false;
      out.error = "the local source returned a cell count that is not a whole number of rows";
    }
    return out;
  }

 private:
  val source_;
};

// What next() hands JS: a plain object.
struct StepOut {
  std::string kind;  // send | wait | idle | failed | rejected
  // send: encodeStatements() as UTF-8, a view of WASM memory that the next call into the
  // module may invalidate: decode it at once (TextDecoder, one native pass).
  val statements = val::undefined();
  // send, to a sync endpoint: the operation and its body (a view, like statements).
  std::string op;
  val request = val::undefined();
  bool lookAhead = false;  // send: call lookAhead() while the batch is in flight
  double waitUntil = 0;    // wait: ms epoch
  std::string code;        // failed, rejected
  std::string message;     // failed, rejected
  std::string d1Message;   // failed, rejected: D1's (or the local database's) last error
};

struct StatusOut {
  std::string code;  // empty when ok
  std::string message;
};

class EngineHandle {
 public:
  EngineHandle(val source, const std::string& optionsJson) : local_(std::move(source)) {
    Options options;
    configError_ = parseOptions(optionsJson, options);
    if (configError_.empty()) engine_ = std::make_unique<Engine>(local_, std::move(options));
  }

  std::string configError() const { return configError_; }

  StepOut next(double now) {
    Step s = engine_->next(static_cast<int64_t>(now));
    StepOut out;
    static const char* const kKinds[] = {"send", "wait", "idle", "failed", "rejected"};
    out.kind = kKinds[s.kind];
    if (s.kind == Step::Send) {
      sentId_ = s.batch.id;
      sentOp_ = s.batch.op;
      sent_ =
          s.batch.op.empty() ? encodeStatements(s.batch.statements) : std::move(s.batch.request);
      val view(emscripten::typed_memory_view(sent_.size(),
                                             reinterpret_cast<const unsigned char*>(sent_.data())));
      out.op = s.batch.op;
      out.lookAhead = s.lookAhead;
      (s.batch.op.empty() ? out.statements : out.request) = view;
    }
    out.waitUntil = static_cast<double>(s.waitUntilMs);
    out.code = codeName(s.code);
    out.message = s.message;
    out.d1Message = s.d1Message;
    return out;
  }

  void lookAhead(double now) {
    releaseSent();
    engine_->lookAhead(static_cast<int64_t>(now));
  }
  // lookAhead 2: the batch to send now, before the answer to the one in flight, as a view
  // like next()'s statements (decode it at once); undefined when there is none.
  val sendAhead(double now) {
    releaseSent();
    auto b = engine_->sendAhead(static_cast<int64_t>(now));
    if (!b) return val::undefined();
    ahead_ = encodeStatements(b->statements);
    return val(emscripten::typed_memory_view(
        ahead_.size(), reinterpret_cast<const unsigned char*>(ahead_.data())));
  }
  std::string takeEvents() { return engine_->takeEvents(); }

  // The adapter between a JS target and the engine's BatchResult (wasm/target.hpp). When ok,
  // `results` is an array of {columns, cells, rowsRead, rowsWritten}, one per statement (the
  // row counts are D1's meta; absent counts are 0). When not, `error` is the target's message,
  // classified here, once: the engine acts on the class and keeps the text only to show it.

  void complete(bool ok, const std::string& error, val results, double now) {
    sent_.clear();
    sent_.shrink_to_fit();
    ahead_.clear();
    ahead_.shrink_to_fit();
    BatchResult r;
    r.id = sentId_;
    r.ok = ok;
    if (ok) {
      readResults(results, r);
    } else {
      r.failure.kind = classifyD1Error(error);
      r.failure.message = error;
    }
    engine_->complete(r, static_cast<int64_t>(now));
  }

  // The adapter for a sync endpoint's answer (sync_protocol.hpp): HTTP status (0: none came),
  // body, Retry-After in ms.
  void completeRemote(double status, const std::string& body, double retryAfterMs, double now) {
    sent_.clear();
    sent_.shrink_to_fit();
    BatchResult r =
        endpointAnswer(sentOp_, static_cast<int>(status), body, static_cast<int64_t>(retryAfterMs));
    r.id = sentId_;
    engine_->complete(r, static_cast<int64_t>(now));
  }

  std::string health(double now) { return engine_->healthJson(static_cast<int64_t>(now)); }
  std::string metrics(double now) { return engine_->metricsText(static_cast<int64_t>(now)); }
  std::string quarantined(double after, double limit) {
    return engine_->quarantinedJson(static_cast<int64_t>(after), static_cast<size_t>(limit));
  }
  StatusOut retryQuarantined(double now) {
    return out(engine_->retryQuarantined(static_cast<int64_t>(now)));
  }
  StatusOut resync(const std::string& table) { return out(engine_->resync(table)); }
  StatusOut uninstall() { return out(engine_->uninstall()); }
  StatusOut beginVerify(const std::string& request, double now) {
    return out(engine_->beginVerify(request, static_cast<int64_t>(now)));
  }
  std::string verifyReport() { return engine_->verifyReport(); }
  StatusOut repair(const std::string& report, double now) {
    return out(engine_->repair(report, static_cast<int64_t>(now)));
  }
  double capturedSeq() { return static_cast<double>(engine_->capturedSeq()); }
  double appliedSeq() const { return static_cast<double>(engine_->appliedSeq()); }
  bool started() const { return engine_->started(); }
  bool initialSyncDone() const { return engine_->initialSyncDone(); }
  // The drive policy lives in the engine: a flush begins a drive (its retry budget is the
  // flushRetryMs option), next() ends it, terminal() says whether a failure is for good.
  void beginDrive(double maxBatches, bool untilStarted) {
    engine_->beginDrive(static_cast<int64_t>(maxBatches), untilStarted);
  }
  bool terminal() const { return engine_->terminal(); }
  double nextRunAt(double now) {
    auto t = engine_->nextRunAt(static_cast<int64_t>(now));
    return t ? static_cast<double>(*t) : -1;
  }

 private:
  static StatusOut out(const Status& s) { return {codeName(s.code), s.message}; }
  // While batches are in flight JS holds its own copies of them (decoded, or copied out): the
  // buffers go back to the allocator before the next page is read, which keeps the module's
  // memory high-water mark down.
  void releaseSent() {
    std::string().swap(sent_);
    std::string().swap(ahead_);
  }
  JsLocalDb local_;
  std::string sent_;     // the statements of the last send step, viewed by JS
  std::string ahead_;    // the statements of the last sendAhead(), viewed by JS
  uint64_t sentId_ = 0;  // the id of the last send step's batch
  std::string sentOp_;   // its sync endpoint operation, empty for SQL
  std::string configError_;
  std::unique_ptr<Engine> engine_;
};

// The names the package's JS and .d.ts copy (error codes, limits), comma-separated; a test
// checks the copies against them.
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}
std::string errorCodes() {
  return joined(errorCodeNames());
}
std::string limits() {
  return joined(limitNames());
}

EMSCRIPTEN_BINDINGS(d1sync) {
  emscripten::function("errorCodes", &errorCodes);
  emscripten::function("limitNames", &limits);
  emscripten::value_object<StepOut>("Step")
      .field("kind", &StepOut::kind)
      .field("statements", &StepOut::statements)
      .field("op", &StepOut::op)
      .field("request", &StepOut::request)
      .field("lookAhead", &StepOut::lookAhead)
      .field("waitUntil", &StepOut::waitUntil)
      .field("code", &StepOut::code)
      .field("message", &StepOut::message)
      .field("d1Message", &StepOut::d1Message);
  emscripten::value_object<StatusOut>("Status")
      .field("code", &StatusOut::code)
      .field("message", &StatusOut::message);
  emscripten::class_<EngineHandle>("Engine")
      .constructor<val, std::string>()
      .function("configError", &EngineHandle::configError)
      .function("next", &EngineHandle::next)
      .function("complete", &EngineHandle::complete)
      .function("lookAhead", &EngineHandle::lookAhead)
      .function("sendAhead", &EngineHandle::sendAhead)
      .function("takeEvents", &EngineHandle::takeEvents)
      .function("completeRemote", &EngineHandle::completeRemote)
      .function("health", &EngineHandle::health)
      .function("metrics", &EngineHandle::metrics)
      .function("quarantined", &EngineHandle::quarantined)
      .function("retryQuarantined", &EngineHandle::retryQuarantined)
      .function("resync", &EngineHandle::resync)
      .function("uninstall", &EngineHandle::uninstall)
      .function("beginVerify", &EngineHandle::beginVerify)
      .function("verifyReport", &EngineHandle::verifyReport)
      .function("repair", &EngineHandle::repair)
      .function("capturedSeq", &EngineHandle::capturedSeq)
      .function("appliedSeq", &EngineHandle::appliedSeq)
      .function("started", &EngineHandle::started)
      .function("initialSyncDone", &EngineHandle::initialSyncDone)
      .function("beginDrive", &EngineHandle::beginDrive)
      .function("terminal", &EngineHandle::terminal)
      .function("nextRunAt", &EngineHandle::nextRunAt);
}

}  // namespace d1sync::wasm
