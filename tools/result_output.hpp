// How `pgtls` prints query results: a psql-like aligned table, CSV (RFC 4180, as psql --csv)
// or JSON (one object per statement per line).
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "pgtls/result.hpp"

namespace pgtls::cli {

enum class OutputFormat { table, csv, json };

// Prints one statement's result. Statements without a row description print their command
// tag in table format ("CREATE TABLE") and nothing in csv; json always prints one line
// {"command": TAG, "columns": [...], "rows": [{...}, ...]}. An empty query prints nothing.
void print_result(std::ostream& out, const Result& result, OutputFormat format, bool first_result_set);

// JSON string literal of `s` (quotes included); invalid UTF-8 bytes become U+FFFD.
std::string json_quote(std::string_view s);

}  // namespace pgtls::cli
