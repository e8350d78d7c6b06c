// What the engine tells its host's log: one JSON object per event (a batch committed, a retry
// scheduled, a source fenced, a change quarantined, a schema change followed, each tenth of a
// table's initial copy). The host drains them after each engine call and prints one line each
// (js/replicator.js: the `log` option).
//
// Events carry counts, sizes, table names and codes, never row values or keys: rows may hold
// personal data, and logs travel further than the database does. D1's own error text (which may
// quote a statement) stays in health().lastError.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace d1sync {

enum class LogLevel { Off = 0, Warn = 1, Info = 2, Debug = 3 };

class Events {
 public:
  void setLevel(LogLevel level) { level_ = level; }
  bool on(LogLevel level) const { return level_ != LogLevel::Off && level <= level_; }
  // Adds {"level", "event", ...fields}. Bounded: past 1,000 undrained events the rest are only
  // counted, and the count ("dropped") rides on the first event added after the host drains.
  void add(LogLevel level, const char* event, nlohmann::json fields);
  // The events since the last call, one JSON object per line.
  std::string take();

 private:
  LogLevel level_ = LogLevel::Off;
  std::vector<std::string> lines_;
  size_t dropped_ = 0;
};

// "warn" / "info" / "debug" / "off" to a level; false when the name is none of them.
bool parseLogLevel(const std::string& name, LogLevel& out);

}  // namespace d1sync
