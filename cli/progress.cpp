#include "progress.hpp"

#include <algorithm>

#include "json_fields.hpp"

namespace d1sync::cli {

std::string withCommas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

Figures figuresOf(const nlohmann::json& health, int64_t rowsAtStart) {
  Figures f;
  if (const auto h = intField(health, "rowsHydrated", 0);
      h > 0 && intField(health, "rowsReplicated", 0) == 0) {
    f.fetching = true;
    f.done = f.total = h;
    return f;
  }
  const auto& initial = jsonField(health, "initialSync");
  const auto& tables = jsonField(initial, "tables");
  if (!boolField(initial, "done", true) && tables.is_object()) {
    f.copying = true;
    for (const auto& [name, t] : tables.items()) {
      f.done += intField(t, "copied", 0);
      f.total += intField(t, "total", 0);
    }
    return f;
  }
  f.done = intField(health, "rowsReplicated", 0) - rowsAtStart;
  const auto& pending = jsonField(health, "pendingChanges");
  f.total = f.done + (pending.is_number_integer() ? pending.get<int64_t>() : 0);
  return f;
}

std::string barLine(const Figures& f, double rate, size_t width) {
  if (f.fetching)
    return withCommas(f.done) + " rows fetched from D1  " + withCommas(static_cast<int64_t>(rate)) +
           " rows/s";
  std::string tail = "  " + withCommas(f.done) + " / " + withCommas(f.total) +
                     (f.copying ? " rows copied" : " changes") + "  " +
                     withCommas(static_cast<int64_t>(rate)) + " rows/s";
  if (rate > 0 && f.total > f.done)
    tail += "  ETA " + std::to_string(static_cast<int64_t>((f.total - f.done) / rate) + 1) + "s";
  const size_t barWidth =
      width > tail.size() + 12 ? std::min<size_t>(40, width - tail.size() - 2) : 10;
  const double share = f.total > 0 ? std::min(1.0, static_cast<double>(f.done) / f.total) : 1.0;
  const size_t filled = static_cast<size_t>(share * barWidth);
  std::string line = "[";
  line.append(filled, '#').append(barWidth - filled, '.').append("]").append(tail);
  return line;
}

void Progress::update(const nlohmann::json& health, int64_t nowMs, bool force) {
  if (quiet_) return;
  // A terminal redraws five times a second; a log gets a line every five seconds.
  const int64_t every = tty_ ? 200 : 5000;
  if (!force && nowMs - lastMs_ < every) return;
  lastMs_ = nowMs;
  const Figures f = figuresOf(health, rowsAtStart_);
  if (f.total == 0) return;  // nothing to show yet (claiming, creating tables)
  // A resumed copy counts what earlier runs copied; the rate is this run's.
  if (firstDone_ < 0 || f.copying != copying_) firstDone_ = f.done, firstMs_ = nowMs;
  copying_ = f.copying;
  const double seconds = std::max<int64_t>(1, nowMs - firstMs_) / 1000.0;
  const std::string text = barLine(f, (f.done - firstDone_) / seconds, 100);
  if (tty_) {
    std::fprintf(out_, "\r%s\x1b[K", text.c_str());
    drawn_ = true;
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

void Progress::line(const std::string& text) {
  if (quiet_) return;
  if (drawn_) std::fprintf(out_, "\r\x1b[K");
  drawn_ = false;
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

void Progress::events(const std::string& lines) {
  if (lines.empty()) return;
  if (drawn_) std::fprintf(out_, "\r\x1b[K");
  drawn_ = false;
  std::fputs(lines.c_str(), out_);
  std::fflush(out_);
}

void Progress::finish() {
  if (drawn_) std::fprintf(out_, "\n");
  drawn_ = false;
}

}  // namespace d1sync::cli
