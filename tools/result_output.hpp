// How `pgtls` prints query results: a psql-like aligned table, CSV (RFC 4180, as psql --csv)
// or JSON (one object per statement per line). Table output escapes control characters as psql
// does; JSON output is strict UTF-8 and embeds no server text bare unless it is valid JSON.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "json_text.hpp"
#include "output_buffer.hpp"
#include "pgtls/result.hpp"

namespace pgtls::cli {

enum class OutputFormat { table, csv, json };

// Prints one statement's result. Statements without a row description print their command
// tag in table format ("CREATE TABLE") and nothing in csv; json always prints one line
// {"columns": [...], "rows": [{...}, ...], "command": TAG} (json_format.hpp). An empty query
// prints nothing.
void print_result(OutputBuffer& out, const Result& result, OutputFormat format, bool first_result_set);

}  // namespace pgtls::cli
