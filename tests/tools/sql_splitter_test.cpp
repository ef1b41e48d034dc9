// The first word of a statement decides whether `pgtls --format csv` streams it
// (tools/pgtls_main.cpp: queries yes, COPY never): comments and case must not hide it, and
// a longer word must not be taken for a shorter one.
#include <gtest/gtest.h>

#include "sql_splitter.hpp"

namespace pgtls::cli {
namespace {

TEST(FirstWord, SeesThroughWhiteSpaceCommentsAndCase) {
    EXPECT_EQ(first_word("copy t from stdin"), "copy");
    EXPECT_EQ(first_word("  \n\tCoPy t to stdout"), "copy");
    EXPECT_EQ(first_word("-- c\nSELECT 1"), "select");
    EXPECT_EQ(first_word("/* a /* nested */ comment */ with x as (select 1) table x"), "with");
    EXPECT_EQ(first_word("/**/copy\"t\" from stdin"), "copy");
    EXPECT_EQ(first_word("select;"), "select");
    EXPECT_EQ(first_word("(select 1) union (select 2)"), "(");
    EXPECT_EQ(first_word("copying"), "copying");
    EXPECT_EQ(first_word("copy_t"), "copy_t");
    EXPECT_EQ(first_word("-- copy\nselect 1"), "select");
    EXPECT_EQ(first_word("/* copy */ values (1)"), "values");
    EXPECT_EQ(first_word("\"copy\""), "\"");
}

TEST(FirstWord, EmptyWhenThereIsNoCode) {
    for (const char* s : {"", "   ", "-- only a comment copy", "/* unterminated copy", "/* a */ -- b"})
        EXPECT_EQ(first_word(s), "") << s;
}

}  // namespace
}  // namespace pgtls::cli
