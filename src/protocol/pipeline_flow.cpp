#include "protocol/pipeline_flow.hpp"

#include <utility>

#include "protocol/backend_messages.hpp"

namespace pgtls::protocol {

bool PipelineFlow::take_described_columns() {
    if (q_ >= described_.size() || described_[q_] == own_description) return false;
    if (!statement_columns_) throw Error(ErrorKind::protocol, "server skipped the description of a pipelined statement");
    results_[q_].result.set_columns(session_.columns_like(*statement_columns_, described_[q_]));
    return true;
}

bool PipelineFlow::on_message(const BackendMessage& m) {
    if (done()) throw Error(ErrorKind::protocol, "server sent more results than queries in the pipeline");
    const std::size_t group_end = sync_after_[group_];
    switch (m.type) {
        case '1':
        case '2':
        case '3': return false;  // CloseComplete: of a statement evicted from the cache or a run's
        case 't':  // ParameterDescription: a statement's description, its columns (or NoData) next
            if (q_ >= group_end) throw Error(ErrorKind::protocol, "server sent more results than queries in the pipeline");
            statement_described_ = true;
            return false;
        case 'n':
            if (std::exchange(statement_described_, false))
                statement_columns_ = std::make_shared<const std::vector<Column>>();
            return false;
        // A query's result is built in its own slot (results_[q_], empty until then): no
        // result is moved per query.
        case 'T':
            if (q_ >= group_end) throw Error(ErrorKind::protocol, "server sent more results than queries in the pipeline");
            if (std::exchange(statement_described_, false)) {
                statement_columns_ = session_.columns_for(m.body);
                return false;
            }
            // A batch of the same query shares one parsed column list.
            results_[q_].result.set_columns(session_.columns_for(m.body));
            have_columns_ = true;
            return false;
        case 'D': {
            if (!have_columns_) {
                // An execute of a prepared statement sends no Describe: its slot came with the
                // statement's columns — or takes those of the statement described for it.
                if (q_ >= group_end) throw Error(ErrorKind::protocol, "server sent DataRow without RowDescription");
                if (!take_described_columns() && results_[q_].result.columns() == 0)
                    throw Error(ErrorKind::protocol, "server sent DataRow without RowDescription");
                have_columns_ = true;
            }
            Result& r = results_[q_].result;
            session_.hold_row(m.body.size() + 8 * r.columns() + 8);
            r.add_data_row(m.body);
            return false;
        }
        case 'C':
        case 'I': {
            if (q_ >= group_end) throw Error(ErrorKind::protocol, "server sent more results than queries in the pipeline");
            if (!have_columns_) (void)take_described_columns();  // no rows: still its columns
            Result& r = results_[q_].result;
            if (m.type == 'C') {
                r.set_command_tag(parse_command_complete(m.body));
                session_.note_command_tag(r.command_tag());  // a pooled LISTEN is noticed
            } else {
                r.set_empty_query();
            }
            results_[q_].status = PipelineResult::Status::ok;
            have_columns_ = false;
            ++q_;
            return false;
        }
        case 'E': {
            // A FATAL or PANIC ends the session (pg_terminate_backend, shutdown): that is the
            // pipeline's error, not one query's.
            ServerErrorFields fields = parse_error_fields(m.body);
            const std::string& sev = fields.severity_nonlocalized.empty() ? fields.severity : fields.severity_nonlocalized;
            if (sev == "FATAL" || sev == "PANIC") throw ServerError(std::move(fields));
            if (q_ >= group_end) {
                // Every query of the group has its result, and then an error: the implicit
                // COMMIT at the Sync failed (a deferred constraint, a serialization failure).
                // The group's work is rolled back, so none of its queries succeeded.
                if (aborted_) throw Error(ErrorKind::protocol, "server reported a second error in one pipeline sync group");
                for (std::size_t i = settled(); i < group_end; ++i) {
                    if (results_[i].status != PipelineResult::Status::ok) continue;
                    results_[i].status = PipelineResult::Status::error;
                    results_[i].result = Result{};
                    results_[i].error.emplace(fields);
                }
                aborted_ = true;
                return false;
            }
            results_[q_].status = PipelineResult::Status::error;
            results_[q_].result.reset();  // the rows that came before the error
            results_[q_].error.emplace(std::move(fields));
            ++q_;
            aborted_ = true;
            have_columns_ = false;
            return false;
        }
        case 'Z':
            session_.transaction_status = parse_ready_for_query(m.body);
            if (!aborted_ && q_ != group_end)
                throw Error(ErrorKind::protocol, "server ended a pipeline sync group before all its results");
            for (; q_ < group_end; ++q_) results_[q_].status = PipelineResult::Status::skipped;
            ++group_;
            aborted_ = false;
            have_columns_ = false;
            statement_described_ = false;
            return done();
        default:
            if (session_.handle_async(m)) return false;
            throw Error(ErrorKind::protocol, std::string("unexpected ") + backend_message_name(m.type) +
                                                 " message from server in a pipeline");
    }
}

}  // namespace pgtls::protocol
