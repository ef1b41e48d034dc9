#include "protocol/query_flow.hpp"

#include "protocol/backend_messages.hpp"

namespace pgtls::protocol {

void QueryFlow::unexpected(char type) const {
    throw Error(ErrorKind::protocol, std::string("unexpected ") + backend_message_name(type) + " message ('" +
                                         std::string(1, type) + "') from server during " +
                                         (kind_ == Kind::simple ? "simple" : "extended") + " query");
}

void QueryFlow::finish_result() {
    if (on_row_) current_->clear_rows();  // a streamed row view points into the read buffer
    if (single_) {
        ++single_count_;
        if (current_ == single_) {  // built in place; a later result is built apart
            current_ = &own_;
            have_columns_ = false;
            return;
        }
        *single_ = std::move(own_);
    } else {
        session_.hold_result();  // each one is kept (a single target keeps only the last)
        results_.push_back(std::move(own_));
    }
    own_.reset();
    have_columns_ = false;
}

bool QueryFlow::on_any_message(const BackendMessage& m) {
    if (in_copy_out_) {
        switch (m.type) {
            case 'd': return false;  // data of a COPY TO STDOUT run through query(): dropped
            case 'c': in_copy_out_ = false; return false;
            case 'E': in_copy_out_ = false; break;  // handled below
            default:
                if (session_.handle_async(m)) return false;
                unexpected(m.type);
        }
    }
    switch (m.type) {
        case '1':  // ParseComplete
        case '2':  // BindComplete
        case '3':  // CloseComplete
            if (kind_ != Kind::extended) unexpected(m.type);
            return false;
        case 'n':  // NoData
            if (kind_ != Kind::extended) unexpected(m.type);
            return false;
        case 't':  // ParameterDescription
            if (kind_ != Kind::extended) unexpected(m.type);
            return false;
        case 'T':
            if (have_columns_) unexpected(m.type);
            current_->set_columns(session_.columns_for(m.body));
            have_columns_ = true;
            return false;
        case 'D':
            if (!have_columns_) throw Error(ErrorKind::protocol, "server sent DataRow without RowDescription");
            if (on_row_) {
                // The row refers to the receive buffer: no copy (valid during the callback only).
                current_->set_row_view(m.body);
                session_.call_user([&] { (*on_row_)((*current_)[0]); });
            } else {
                // Kept: the body, its field table, its row index entry.
                session_.hold_row(m.body.size() + 8 * current_->columns() + 8);
                current_->add_data_row(m.body);
            }
            return false;
        case 'C':
            current_->set_command_tag(parse_command_complete(m.body));
            session_.note_command_tag(current_->command_tag());
            finish_result();
            return false;
        case 'I':
            current_->set_empty_query();
            finish_result();
            return false;
        case 's':  // PortalSuspended: no Execute of this client has a row limit, so the rows
                   // would be cut short
            unexpected(m.type);
        case 'E':
            if (!error_) error_.emplace(parse_error_fields(m.body));
            current_->reset();
            have_columns_ = false;
            return false;
        case 'G':  // CopyInResponse: this API has no data to give
            copy_in_requested_ = true;
            return false;
        case 'H':  // CopyOutResponse
            in_copy_out_ = true;
            return false;
        case 'Z':
            // A result whose rows had begun never ended (no CommandComplete, EmptyQueryResponse or
            // ErrorResponse): its rows may be cut short, so none is reported.
            if (have_columns_) [[unlikely]]
                throw Error(ErrorKind::protocol, "server sent ReadyForQuery before the end of a result (no CommandComplete)");
            session_.transaction_status = parse_ready_for_query(m.body);
            return true;
        default:
            if (session_.handle_async(m)) return false;
            unexpected(m.type);
    }
}

}  // namespace pgtls::protocol
