#include "events.hpp"

namespace d1sync {

namespace {

constexpr size_t kMaxQueued = 1000;

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Info:
      return "info";
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Off:
      break;
  }
  return "off";
}

}  // namespace

void Events::add(LogLevel level, const char* event, nlohmann::json fields) {
  if (!on(level)) return;
  if (lines_.size() >= kMaxQueued) {
    ++dropped_;
    return;
  }
  if (dropped_) {
    fields["dropped"] = dropped_;
    dropped_ = 0;
  }
  // "level" and "event" lead every line, for people and for the host's level check; the
  // fields follow in name order. (Spliced by hand: an ordered JSON type would cost the module
  // a second copy of the JSON library.)
  std::string rest = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string line =
      std::string("{\"level\":\"") + levelName(level) + "\",\"event\":\"" + event + "\"";
  line += rest.size() > 2 ? "," + rest.substr(1) : "}";
  lines_.push_back(std::move(line));
}

std::string Events::take() {
  std::string out;
  for (const auto& l : lines_) out += l + "\n";
  lines_.clear();
  return out;
}

bool parseLogLevel(const std::string& name, LogLevel& out) {
  for (LogLevel l : {LogLevel::Off, LogLevel::Warn, LogLevel::Info, LogLevel::Debug}) {
    if (name == levelName(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

}  // namespace d1sync
