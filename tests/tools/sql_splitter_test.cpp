// The first word of a statement decides whether `pgtls --format csv` may stream it (COPY may
// not: tools/pgtls_main.cpp); comments and case must not hide it, and a longer word must not
// be mistaken for it.
#include <gtest/gtest.h>

#include "sql_splitter.hpp"

namespace pgtls::cli {
namespace {

TEST(StartsWithKeyword, SeesThroughWhiteSpaceCommentsAndCase) {
    for (const char* s : {"copy t from stdin", "COPY t FROM STDIN", "  \n\tCoPy t to stdout", "-- c\ncopy t from stdin",
                          "/* a /* nested */ comment */ copy(x) to stdout", "copy", "copy;", "/**/copy\"t\" from stdin"})
        EXPECT_TRUE(starts_with_keyword(s, "copy")) << s;
}

TEST(StartsWithKeyword, RefusesOtherWords) {
    for (const char* s : {"", "select 1", "copying", "copy_t", "copy1", "-- copy\nselect 1", "/* copy */ select 1",
                          "/* unterminated copy", "-- only a comment copy", "select 'copy'", "cop", "\"copy\""})
        EXPECT_FALSE(starts_with_keyword(s, "copy")) << s;
}

}  // namespace
}  // namespace pgtls::cli
