// The bulk format crossing the JS <-> WASM seam (wasm/rows_codec.hpp).
#include <gtest/gtest.h>

#include "rows_codec.hpp"

namespace d1sync {
namespace {

TEST(RowsCodec, RoundTripsCellsNullsAndEmptyStrings) {
  Rows rows;
  rows.columns = 3;
  rows.add("1");
  rows.add("", true);
  rows.add("");
  rows.add("'a,b'");
  rows.add("CAST(X'6100' AS TEXT)");
  rows.add("\xF0\x9F\x8E\x89");
  Rows back;
  ASSERT_TRUE(decodeRows(3, encodeRows(rows), back));
  EXPECT_EQ(back.size(), 2u);
  EXPECT_EQ(back.cells, rows.cells);
  EXPECT_EQ(back.nulls, rows.nulls);
  EXPECT_TRUE(back.isNull(0, 1));
  EXPECT_FALSE(back.isNull(0, 2));
}

TEST(RowsCodec, RefusesAPartialRow) {
  Rows back;
  EXPECT_FALSE(decodeRows(2, std::string("a\0b\0c\0", 6), back));
  EXPECT_EQ(back.size(), 0u);
  EXPECT_TRUE(decodeRows(2, "", back));
  EXPECT_EQ(back.size(), 0u);
}

TEST(RowsCodec, StatementsAreTerminatedNotSeparated) {
  EXPECT_EQ(encodeStatements({"SELECT 1", "", "SELECT 2"}),
            std::string("SELECT 1\0\0SELECT 2\0", 19));
  EXPECT_EQ(encodeStatements({}), "");
}

}  // namespace
}  // namespace d1sync
