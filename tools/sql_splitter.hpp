// Splits a script into statements the way psql does before sending each one: a ';' ends a
// statement unless it is inside '...', E'...', "...", $tag$...$tag$, a -- comment or a
// (nested) /* */ comment. Statements holding only white space and comments are dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgtls::cli {

struct Statement {
    std::string sql;    // without the terminating ';'
    std::size_t line;   // 1-based line where the statement starts (for error messages)
};

std::vector<Statement> split_statements(std::string_view script);

// The statement's first word after white space and comments, ASCII letters lower-cased
// ("select", "with"); its first character when that is no letter ("(", "\""); empty when
// there is nothing but white space and comments.
std::string first_word(std::string_view sql);

}  // namespace pgtls::cli
