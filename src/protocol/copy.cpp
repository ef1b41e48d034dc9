#include "protocol/copy.hpp"

#include <utility>

#include "protocol/backend_messages.hpp"
#include "protocol/frontend.hpp"

namespace pgtls::protocol {

namespace {
[[noreturn]] void unexpected(char type, const char* during) {
    throw Error(ErrorKind::protocol,
                std::string("unexpected ") + backend_message_name(type) + " message from server " + during);
}
}  // namespace

// ---- COPY TO STDOUT

Action CopyOut::send() {
    query(wire_.out, sql_);
    return Action::write();
}

bool CopyOut::on_message(const BackendMessage& m) {
    // Between CopyOutResponse and CopyDone (or an ErrorResponse) the server sends CopyData and
    // asynchronous messages only: a result's messages there are no COPY's.
    if (in_copy_ && m.type != 'd' && m.type != 'c' && m.type != 'E') [[unlikely]] {
        if (wire_.session.handle_async(m)) return false;
        unexpected(m.type, "in the middle of COPY TO STDOUT data");
    }
    switch (m.type) {
        case 'H': in_copy_ = true; return false;
        case 'd':
            if (!in_copy_) throw Error(ErrorKind::protocol, "server sent CopyData outside COPY");
            if (!error_)
                wire_.session.call_user([&] {
                    on_data_(std::string_view(reinterpret_cast<const char*>(m.body.data()), m.body.size()));
                });
            return false;
        case 'c':
            in_copy_ = false;
            copied_ = true;
            return false;
        case 'C': {
            // Only a COPY's count: another statement sent with it ("COPY ...; SELECT ...")
            // copied nothing. Several COPY TO STDOUT gave on_data the rows of each.
            if (!std::exchange(copied_, false)) return false;
            Result r;
            r.set_command_tag(parse_command_complete(m.body));
            rows_ += r.affected_rows();
            return false;
        }
        case 'E':
            if (!error_) error_.emplace(parse_error_fields(m.body));
            in_copy_ = false;
            return false;
        case 'G': copy_fail(wire_.out, "copy_out() cannot send COPY FROM STDIN data"); return false;
        case 'T':
        case 'D':
        case 'I': return false;  // not a COPY statement (or an empty one): rows are ignored
        case 'Z': wire_.session.transaction_status = parse_ready_for_query(m.body); return true;
        default:
            if (wire_.session.handle_async(m)) return false;
            unexpected(m.type, "during COPY TO STDOUT");
    }
}

// ---- COPY FROM STDIN

Action CopyInStart::send() {
    query(wire_.out, sql_);
    return Action::write();
}

bool CopyInStart::on_message(const BackendMessage& m) {
    if (not_copy_) {
        // The COPY after other statements ("SET search_path ...; COPY t FROM STDIN"): it opens
        // as it would alone, as with libpq's PQexec (the server waits for its data).
        if (m.type == 'G' && !other_.error()) {
            not_copy_ = false;
            return true;
        }
        return other_.on_message(m);
    }
    if (error_) {  // the rest of the reply after the error, up to ReadyForQuery
        if (m.type != 'Z') return false;
        wire_.session.transaction_status = parse_ready_for_query(m.body);
        return true;
    }
    switch (m.type) {
        case 'G': return true;  // CopyInResponse: the COPY is open, no ReadyForQuery until it ends
        case 'E': error_.emplace(parse_error_fields(m.body)); return false;
        case 'H':
        case 'T':
        case 'C':
        case 'I':  // an empty statement
        case 'Z': not_copy_ = true; return other_.on_message(m);
        default:
            if (wire_.session.handle_async(m)) return false;
            unexpected(m.type, "at the start of COPY");
    }
}

Action CopyInStart::finished() {
    if (error_) return Action::failure(std::make_exception_ptr(*error_), Action::Connection::kept);
    // A statement before the COPY failed ("SET ...; COPY missing FROM STDIN"): its error.
    if (other_.error()) return Action::failure(std::make_exception_ptr(*other_.error()), Action::Connection::kept);
    if (not_copy_)
        return Action::failure(
            std::make_exception_ptr(Error(ErrorKind::usage, "copy_in() needs a COPY ... FROM STDIN statement")),
            Action::Connection::kept);
    return Action::success();
}

Action CopyInData::send() {
    Action a = Action::write_draining();
    a.tail = {messages_, {}};
    return a;
}

bool CopyInData::on_message(const BackendMessage& m) {
    if (error_) {  // the server ignores the rest of the COPY after an error, up to ReadyForQuery
        if (m.type != 'Z') return false;
        wire_.session.transaction_status = parse_ready_for_query(m.body);
        return true;
    }
    if (m.type == 'E') {
        error_.emplace(parse_error_fields(m.body));
        return false;
    }
    if (wire_.session.handle_async(m)) return false;
    unexpected(m.type, "during COPY FROM STDIN");
}

Action CopyInEnd::send() {
    Action a = Action::write_draining();
    a.tail = {messages_, {}};
    return a;
}

bool CopyInEnd::on_message(const BackendMessage& m) {
    const bool ended = flow_.on_message(m);
    if (flow_.needs_copy_fail()) [[unlikely]] {
        // A second COPY FROM STDIN in the same statement string: its data is not ours to give,
        // and the server waits for it. Failing it fails the string's implicit transaction.
        copy_fail(wire_.out, "copy_in() gives data to one COPY FROM STDIN; run each COPY in a call of its own");
        flow_.copy_fail_sent();
    }
    return ended;
}

Action CopyInEnd::finished() {
    if (how_ == How::abort) return Action::success();  // the error echoes our CopyFail
    return Request::finished();
}

}  // namespace pgtls::protocol
