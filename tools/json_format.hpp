// One statement's line of `pgtls --format json`, written in parts so rows can stream:
//   {"columns":["a","b"],"rows":[{"a":1,"b":"x"},...],"command":"SELECT 2"}
// The command tag comes last because the server sends it after the rows. Whatever a column's
// type claims, nothing is embedded bare unless it is the JSON it must be (a hostile server
// could otherwise forge structure): a boolean that is not t/f, a number that is not a JSON
// number and json that does not parse are quoted as strings; json/jsonb is re-emitted compact
// (its newlines would break one line per statement).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "output_buffer.hpp"
#include "pgtls/result.hpp"

namespace pgtls::cli {

// Type OIDs from pg_type.dat whose text form psql right-aligns and JSON prints bare.
bool is_numeric_type(std::uint32_t oid) noexcept;

class JsonResultWriter {
public:
    // Writes {"columns":[...],"rows":[
    JsonResultWriter(OutputBuffer& out, const std::vector<Column>& columns);
    void row(const Row& row);
    // Writes ],"command":TAG}, ending the line.
    void finish(std::string_view command_tag);
    // The server's error after some rows: ],"error":{"sqlstate":…,"message":…}}, ending the
    // line, so what was written stays valid JSON and cannot pass for a complete result.
    void fail(std::string_view sqlstate, std::string_view message);

private:
    OutputBuffer& out_;
    std::vector<std::string> keys_;  // "name": per column, quoted once
    bool first_row_ = true;
};

}  // namespace pgtls::cli
