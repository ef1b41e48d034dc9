// Explicit pipelines' queries: see pipeline.hpp.
#include "protocol/pipeline.hpp"

namespace pgtls::protocol {

std::string encode_pipeline_query(std::string& out, bool after_sync, std::string_view sql,
                                  std::span<const Param> params, ResultFormat format, StatementCache& names) {
    std::string name;
    if (after_sync && !drops_prepared_statements(sql)) name = names.next_name();
    const std::size_t before = out.size();
    try {
        encode_extended_closing(out, nullptr, sql, params, format, name);
    } catch (...) {
        out.resize(before);
        throw;
    }
    return name;
}

std::vector<std::string> pipeline_leftovers(std::span<const std::string> names, const std::vector<PipelineResult>& results) {
    std::vector<std::string> left;
    for (std::size_t i = 0; i < names.size() && i < results.size(); ++i)
        if (!names[i].empty() && results[i].status == PipelineResult::Status::error) left.push_back(names[i]);
    return left;
}

}  // namespace pgtls::protocol
