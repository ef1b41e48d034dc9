#include "stream_export.hpp"

#include <optional>
#include <string>

#include "csv_format.hpp"
#include "json_format.hpp"

namespace pgtls::cli {
namespace {

// The columns of the statement stream() just ran, when no row came to show them: stream()
// left it as the unnamed statement, whose description costs one round trip and no
// re-execution. Empty for a statement without rows.
std::vector<Column> columns_of_last_statement(Client& client) { return client.describe_statement("").columns; }

}  // namespace

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
    const std::vector<Column> columns = columns_of_last_statement(client);
    if (columns.empty()) return false;
    header(columns);
    return true;
}

void stream_json(Client& client, std::string_view sql, OutputBuffer& out, ProgressLine& progress) {
    std::optional<JsonResultWriter> json;
    std::uint64_t rows = 0;
    try {
        rows = client.stream(sql, {}, [&](const Row& row) {
            if (!json) json.emplace(out, row.columns());
            json->row(row);
            progress.row(out.bytes());
        });
    } catch (const ServerError& e) {
        if (json) json->fail(e.fields().sqlstate, e.fields().message);
        throw;
    }
    if (!json) json.emplace(out, columns_of_last_statement(client));
    json->finish("SELECT " + std::to_string(rows));
}

}  // namespace pgtls::cli
