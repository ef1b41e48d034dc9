// `pgtls --format csv|json` of one statement, streamed: rows are written as they arrive
// (Client::stream, extended protocol), so memory stays constant whatever the row count. The
// bytes are those of the buffered output for the same statement (csv_format.hpp,
// json_format.hpp write both).
#pragma once

#include <string_view>

#include "output_buffer.hpp"
#include "pgtls/client.hpp"
#include "progress_line.hpp"

namespace pgtls::cli {

// Runs one statement (a single statement: the extended protocol takes no more) and writes
// its result set: a blank line first unless `first_result_set`, the header, the rows. A
// statement without a row description writes nothing. Returns whether a result set was
// written. A ServerError after some rows propagates with those rows (complete lines) still
// in `out`; the caller flushes them.
bool stream_csv(Client& client, std::string_view sql, OutputBuffer& out, bool first_result_set,
                ProgressLine& progress);

// Runs one statement whose command tag is "SELECT <rows>" (a SELECT, VALUES, TABLE or
// parenthesised query: the tag is not otherwise available while streaming) and writes its
// JSON line. A ServerError after some rows ends the line with an "error" member
// (JsonResultWriter::fail) before it propagates.
void stream_json(Client& client, std::string_view sql, OutputBuffer& out, ProgressLine& progress);

}  // namespace pgtls::cli
