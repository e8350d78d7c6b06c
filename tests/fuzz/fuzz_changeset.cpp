// libFuzzer target: the changeset decoder (wasm/changeset.hpp), which will read changesets sent
// by browsers. Decoding never crashes, and whatever it accepts it gives back exactly: the
// decoded changeset encodes to the very same bytes and decodes again to an equal changeset,
// and every literal in it re-renders canonically (its value survives renderLiteral, and the
// canonical text is a fixed point). A refusal leaves nothing behind and says why in ASCII.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "changeset.hpp"

namespace {

using namespace d1sync;

void check(bool ok) {
  if (!ok) std::abort();
}

void checkRefusal(const ChangesetStatus& st) {
  check(!st.ok() && !st.message.empty());
  for (char c : st.message) check(c >= 0x20 && c < 0x7F);
}

void checkCanonical(std::string_view literal) {
  Value value;
  check(parseLiteral(literal, value).ok());
  const std::string canonical = renderLiteral(value);
  Value again;
  check(parseLiteral(canonical, again).ok());
  check(again == value);
  check(renderLiteral(again) == canonical);
}

void checkTuples(const TupleList& list, size_t width) {
  std::vector<std::string_view> literals;
  for (size_t i = 0; i < list.size(); ++i) {
    splitTuple(list[i], literals);
    check(literals.size() == width);
    for (auto lit : literals) checkCanonical(lit);
  }
  if (!list.empty()) check(list.run(0, list.size()).size() == list.bytes());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  Value value;
  ChangesetStatus lit = parseLiteral(in, value);
  if (lit.ok())
    checkCanonical(in);
  else
    checkRefusal(lit);
  ChangesetStatus key = checkKeyList(in, 1 + size % 3);
  if (!key.ok()) checkRefusal(key);

  Changeset c;
  ChangesetStatus st = decodeChangeset(in, c);
  if (!st.ok()) {
    checkRefusal(st);
    check(c == Changeset{});
    return 0;
  }
  std::string bytes;
  check(encodeChangeset(c, bytes).ok());
  check(bytes == in);
  Changeset back;
  check(decodeChangeset(bytes, back).ok());
  check(back == c);
  for (const auto& t : c.tables) {
    checkTuples(t.deletes, t.keyWidth);
    checkTuples(t.upserts, t.columns.size());
    for (const auto& r : t.rangeDeletes)
      for (const auto* bound : {&r.low, &r.high})
        if (*bound) check(checkTuple(**bound, t.keyWidth, t.rowidKey).ok());
  }
  return 0;
}
