// A table of rows replicated in pages of 100, for the look-ahead tests (test_look_ahead.cpp,
// test_two_in_flight.cpp): many small batches, so that each one has a next to read ahead.
#pragma once

#include <string>

#include "fixtures.hpp"

namespace d1sync::native {

class PagedTest : public EngineTest {
 protected:
  void fill(int rows) {
    local->run(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
        "WITH RECURSIVE n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n WHERE i<" +
        std::to_string(rows) + ") INSERT INTO t SELECT i, 'v' || i FROM n");
  }
  Options paged(int lookAhead) {
    Options o = defaultOptions();
    o.limits.copyPageRows = 100;
    o.limits.pageChanges = 100;
    o.lookAhead = lookAhead;
    return o;
  }
  std::string savedState() {
    return local->exec("SELECT doc FROM _d1sync_state WHERE id = 1").rows.at(0, 0);
  }
};

}  // namespace d1sync::native
