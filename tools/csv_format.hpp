// CSV as `psql --csv` writes it (RFC 4180): fields separated by ',', lines ended by '\n'; a
// field is quoted when it is empty, is "\." (COPY's end-of-data line) or holds ',', '"', '\r'
// or '\n' (a '"' inside is doubled);
// NULL is an empty unquoted field. Written straight into the output buffer: no allocation per
// field or row. The buffered and the streaming output both use these, so they cannot differ.
#pragma once

#include <vector>

#include "output_buffer.hpp"
#include "pgtls/result.hpp"

namespace pgtls::cli {

void write_csv_header(OutputBuffer& out, const std::vector<Column>& columns);
void write_csv_row(OutputBuffer& out, const Row& row);

}  // namespace pgtls::cli
