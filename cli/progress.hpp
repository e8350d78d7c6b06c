// What a running push shows: on a terminal, one bar redrawn in place (rows done / total, rows/s,
// ETA); otherwise a plain line every few seconds, so logs stay readable. Figures come from the
// engine's health() document.
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace d1sync::cli {

struct Figures {
  int64_t done = 0, total = 0;  // rows copied and to copy, or changes sent and pending
  bool copying = false;
  bool fetching = false;  // a pull: rows come from D1, their total is not known ahead
};

// Rows done and to do from a health() document.
Figures figuresOf(const nlohmann::json& health, int64_t rowsAtStart);
// "[#####.....]  45,000 / 200,000 rows  12,345 rows/s  ETA 13s" in `width` columns.
std::string barLine(const Figures& f, double rowsPerSecond, size_t width);
std::string withCommas(int64_t n);

class Progress {
 public:
  Progress(FILE* out, bool tty, bool quiet) : out_(out), tty_(tty), quiet_(quiet) {}
  void update(const nlohmann::json& health, int64_t nowMs, bool force = false);
  void line(const std::string& text);  // a message between redraws
  // The engine's log events (--log), one JSON line each: printed even when quiet, which only
  // silences what nobody asked for.
  void events(const std::string& lines);
  void finish();
  void start(int64_t nowMs, int64_t rowsAtStart) {
    startMs_ = lastMs_ = nowMs;
    rowsAtStart_ = rowsAtStart;
  }

 private:
  FILE* out_;
  bool tty_, quiet_;
  bool drawn_ = false;
  int64_t startMs_ = 0, lastMs_ = 0, rowsAtStart_ = 0;
  int64_t firstDone_ = -1, firstMs_ = 0;
  bool copying_ = false;
};

}  // namespace d1sync::cli
