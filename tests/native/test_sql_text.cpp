// SQL text helpers: quoting, the tokenizer over sqlite_master's CREATE statements, parenthesis
// matching and top-level splitting.
#include "fixtures.hpp"
#include "sql_text.hpp"

namespace d1sync::native {
namespace {

// Tokens as "<kind>:<raw text>" strings, so a whole tokenization compares in one assertion.
std::vector<std::string> kinds(std::string_view sql) {
  static const char* const kNames[] = {"W", "Q", "S", "N", "P", "B"};
  std::vector<std::string> out;
  for (const auto& t : tokenize(sql))
    out.push_back(std::string(kNames[t.kind]) + ":" + std::string(t.text));
  return out;
}

using V = std::vector<std::string>;

TEST(SqlText, QuoteIdentDoublesEmbeddedDoubleQuotes) {
  EXPECT_EQ(quoteIdent("plain"), "\"plain\"");
  EXPECT_EQ(quoteIdent("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(quoteIdent("\"\""), "\"\"\"\"\"\"");
  EXPECT_EQ(quoteIdent(""), "\"\"");
  EXPECT_EQ(quoteIdent("it's [x] `y`"), "\"it's [x] `y`\"");
  EXPECT_EQ(quoteIdent("ünï cödé"), "\"ünï cödé\"");
}

TEST(SqlText, QuoteTextDoublesEmbeddedSingleQuotes) {
  EXPECT_EQ(quoteText("it's"), "'it''s'");
  EXPECT_EQ(quoteText("''"), "''''''");
  EXPECT_EQ(quoteText(""), "''");
  EXPECT_EQ(quoteText("say \"hi\""), "'say \"hi\"'");
}

TEST(SqlText, QuotedNamesAndTextRoundTripThroughSqlite) {
  SqliteLocal db(":memory:");
  const std::string name = "we\"ird 'name' [x] `y` ünï";
  db.run("CREATE TABLE " + quoteIdent(name) + "(" + quoteIdent(name) + " TEXT)");
  db.run("INSERT INTO " + quoteIdent(name) + " VALUES (" + quoteText(name) + ")");
  auto r = db.exec("SELECT " + quoteIdent(name) + ", (SELECT name FROM sqlite_master) FROM " +
                   quoteIdent(name));
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows.at(0, 0), name);
  EXPECT_EQ(r.rows.at(0, 1), name);
}

TEST(SqlText, TokenizeSkipsLineAndBlockComments) {
  EXPECT_EQ(kinds("a -- comment ( ' \" \n b /* block ( ' */ c"), (V{"W:a", "W:b", "W:c"}));
  EXPECT_EQ(kinds("a -- to the end"), (V{"W:a"}));
  EXPECT_EQ(kinds("a /* unterminated ( "), (V{"W:a"}));
  EXPECT_EQ(kinds("a/**/b"), (V{"W:a", "W:b"}));
  // A lone minus or slash is punctuation, not a comment.
  EXPECT_EQ(kinds("a-b/c"), (V{"W:a", "P:-", "W:b", "P:/", "W:c"}));
}

TEST(SqlText, TokenizeQuotedIdentifiersInEveryStyle) {
  auto tk = tokenize("[a b] `c``d` \"e\"\"f\" [g\"h]");
  ASSERT_EQ(tk.size(), 4u);
  for (const auto& t : tk) EXPECT_EQ(t.kind, Token::Quoted) << t.text;
  EXPECT_EQ(tk[0].text, "[a b]");
  EXPECT_EQ(identName(tk[0]), "a b");
  EXPECT_EQ(tk[1].text, "`c``d`");
  EXPECT_EQ(identName(tk[1]), "c`d");
  EXPECT_EQ(tk[2].text, "\"e\"\"f\"");
  EXPECT_EQ(identName(tk[2]), "e\"f");
  EXPECT_EQ(identName(tk[3]), "g\"h");
  // Offsets point into the source.
  EXPECT_EQ(tk[1].begin, 6u);
  EXPECT_EQ(tk[1].end, 12u);
}

TEST(SqlText, TokenizeStringsKeepDoubledQuotesAndHideDelimiters) {
  auto tk = tokenize("'it''s (not) -- a, comment' x");
  ASSERT_EQ(tk.size(), 2u);
  EXPECT_EQ(tk[0].kind, Token::String);
  EXPECT_EQ(tk[0].text, "'it''s (not) -- a, comment'");
  EXPECT_EQ(identName(tk[0]), "it's (not) -- a, comment");
  EXPECT_EQ(kinds("''"), (V{"S:''"}));
  EXPECT_EQ(kinds("''''"), (V{"S:''''"}));
}

TEST(SqlText, TokenizeBlobLiterals) {
  EXPECT_EQ(kinds("X'00ff' x'AB' X''"), (V{"B:X'00ff'", "B:x'AB'", "B:X''"}));
  // A word ending in x followed by a string is a word and a string, not a blob.
  EXPECT_EQ(kinds("max 'a'"), (V{"W:max", "S:'a'"}));
  EXPECT_EQ(kinds("ax'0a'"), (V{"W:ax", "S:'0a'"}));
}

TEST(SqlText, TokenizeNumbers) {
  EXPECT_EQ(kinds("1e-5"), (V{"N:1e-5"}));
  EXPECT_EQ(kinds("1.5E+10 .5 42 3.25"), (V{"N:1.5E+10", "N:.5", "N:42", "N:3.25"}));
  EXPECT_EQ(kinds("1-2"), (V{"N:1", "P:-", "N:2"}));
  EXPECT_EQ(kinds("-1"), (V{"P:-", "N:1"}));
  EXPECT_EQ(kinds("0x1F"), (V{"N:0x1F"}));
  EXPECT_EQ(kinds("a.b"), (V{"W:a", "P:.", "W:b"}));
}

TEST(SqlText, TokenizeHexLiteralEndingInEFollowedByPlusIsThreeTokens) {
  // 0xE is a complete hex literal; "+1" is an addition, not an exponent. SQLite keeps
  // "DEFAULT (0xE+1)" as dflt_value "0xE+1": the DDL must see an expression there.
  EXPECT_EQ(kinds("0xE+1"), (V{"N:0xE", "P:+", "N:1"}));
  EXPECT_EQ(kinds("0x1e-2"), (V{"N:0x1e", "P:-", "N:2"}));
}

TEST(SqlText, TokenizeWordsAndPunctuation) {
  auto tk = tokenize("CREATE TABLE t$1(ünï INT,b);");
  ASSERT_EQ(
      kinds("CREATE TABLE t$1(ünï INT,b);"),
      (V{"W:CREATE", "W:TABLE", "W:t$1", "P:(", "W:ünï", "W:INT", "P:,", "W:b", "P:)", "P:;"}));
  EXPECT_TRUE(tk[0].is("create"));
  EXPECT_FALSE(tk[0].is("creat"));
  EXPECT_TRUE(tk[3].isPunct('('));
  EXPECT_FALSE(tk[2].isPunct('('));
  // Quoted tokens are never keywords.
  EXPECT_FALSE(tokenize("\"CREATE\"")[0].is("CREATE"));
}

TEST(SqlText, MatchParenFindsTheClosingToken) {
  auto tk = tokenize("f(a, (b), g(c, ')'), \"(\") + x");
  // f ( a , ( b ) , g ( c , ')' ) , "(" ) + x
  ASSERT_EQ(tk.size(), 19u);
  EXPECT_EQ(matchParen(tk, 1), 16u);
  EXPECT_TRUE(tk[16].isPunct(')'));
  EXPECT_EQ(matchParen(tk, 4), 6u);
  EXPECT_EQ(matchParen(tk, 9), 13u);
  auto open = tokenize("f(a, (b)");
  EXPECT_EQ(matchParen(open, 1), open.size());
}

TEST(SqlText, SplitTopLevelSplitsOnlyOutsideParentheses) {
  std::string sql = "a INT, b DEC(10,2) DEFAULT ','/* , */, CHECK (a IN (1,2) AND b <> ')'), c";
  auto tk = tokenize(sql);
  auto parts = splitTopLevel(tk, 0, tk.size());
  ASSERT_EQ(parts.size(), 4u);
  auto text = [&](std::pair<size_t, size_t> p) {
    return sql.substr(tk[p.first].begin, tk[p.second - 1].end - tk[p.first].begin);
  };
  EXPECT_EQ(text(parts[0]), "a INT");
  EXPECT_EQ(text(parts[1]), "b DEC(10,2) DEFAULT ','");
  EXPECT_EQ(text(parts[2]), "CHECK (a IN (1,2) AND b <> ')')");
  EXPECT_EQ(text(parts[3]), "c");
  // A sub-range and an empty trailing part.
  auto sub = splitTopLevel(tk, 0, 3);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].first, 0u);
  EXPECT_EQ(sub[0].second, 2u);
  auto trailing = tokenize("a,");
  EXPECT_EQ(splitTopLevel(trailing, 0, trailing.size()).size(), 1u);
}

TEST(SqlText, CaseHelpers) {
  EXPECT_TRUE(equalsNoCase("WITHOUT", "without"));
  EXPECT_FALSE(equalsNoCase("WITHOUT", "withou"));
  EXPECT_TRUE(startsWithNoCase("sqlite_sequence", "SQLITE_"));
  EXPECT_FALSE(startsWithNoCase("sql", "sqlite_"));
  EXPECT_EQ(toLower("AbC_1"), "abc_1");
}

}  // namespace
}  // namespace d1sync::native
