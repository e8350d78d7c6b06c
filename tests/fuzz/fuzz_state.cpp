// libFuzzer target: what the engine parses from outside — its persisted state document, the
// options JSON a host passes, and D1's answer to the fencing query — never crash it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine.hpp"
#include "fence.hpp"
#include "rows_codec.hpp"
#include "state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  d1sync::State state;
  if (d1sync::stateFromJson(text, state)) (void)d1sync::stateToJson(state);
  d1sync::Options options;
  (void)d1sync::parseOptions(text, options);
  d1sync::Rows rows;
  if (d1sync::decodeRows(4, text, rows)) (void)d1sync::parseSourceRow(rows);
  (void)d1sync::classifyD1Error(text);
  return 0;
}
