#include "csv_export.hpp"

#include "csv_format.hpp"

namespace pgtls::cli {

bool stream_csv(Client& client, std::string_view sql, OutputBuffer& out, bool first_result_set,
                ProgressLine& progress) {
    bool header_written = false;
    auto header = [&](const std::vector<Column>& columns) {
        if (!first_result_set) out.append('\n');
        write_csv_header(out, columns);
        header_written = true;
    };
    client.stream(sql, {}, [&](const Row& row) {
        if (!header_written) header(row.columns());
        write_csv_row(out, row);
        progress.row(out.bytes());
    });
    if (header_written) return true;
    // No row arrived, so whether the statement has columns is still unknown: stream() left it
    // as the unnamed statement, whose description costs one round trip and no re-execution.
    PreparedStatement described = client.describe_statement("");
    if (described.columns.empty()) return false;
    header(described.columns);
    return true;
}

}  // namespace pgtls::cli
