// The blocking client's COPY (in and out), Pipeline and Transaction.
#include <algorithm>

#include "core/client_call.hpp"
#include "core/client_impl.hpp"
#include "core/protocol/backend_messages.hpp"
#include "core/protocol/frontend.hpp"
#include "core/protocol/pipeline_flow.hpp"
#include "core/protocol/query_flow.hpp"

namespace pgtls {

using transport::Clock;
using transport::Deadline;


namespace {
// Reads to ReadyForQuery after an error, so the connection is usable again.
void drain_to_ready(Client::Impl& impl, transport::Deadline d, std::optional<ServerError>& err);
}  // namespace

CopyIn Client::copy_in(std::string_view copy_sql) {
    auto& impl = live();
    return guarded(impl, [&]() -> CopyIn {
        impl.ensure_ready();
        const Deadline d = impl.query_deadline();
        impl.out.clear();
        protocol::query(impl.out, copy_sql);
        impl.send(d);
        std::optional<ServerError> err;
        try {
            while (true) {
                auto m = impl.next_message(d);
                if (m.type == 'G') {
                    impl.copy_in_open = true;
                    return CopyIn(*this);
                }
                if (m.type == 'E') {
                    err.emplace(protocol::parse_error_fields(m.body));
                    drain_to_ready(impl, d, err);
                    throw *err;
                }
                if (impl.session.handle_async(m)) continue;
                if (m.type == 'H' || m.type == 'T' || m.type == 'C' || m.type == 'Z') {
                    protocol::QueryFlow flow(protocol::QueryFlow::Kind::simple, impl.session);
                    bool done = flow.on_message(m);
                    while (!done) done = flow.on_message(impl.next_message(d));
                    throw Error(ErrorKind::usage, "copy_in() needs a COPY ... FROM STDIN statement");
                }
                throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m.type) +
                                                     " message from server at the start of COPY");
            }
        } catch (const ServerError&) {
            throw;
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::usage) impl.fail_connection();
            throw;
        }
    });
}

std::uint64_t Client::copy_out(std::string_view copy_sql, const std::function<void(std::string_view)>& on_data) {
    auto& impl = live();
    return guarded(impl, [&]() -> std::uint64_t {
        impl.ensure_ready();
        const Deadline d = impl.query_deadline();
        impl.out.clear();
        protocol::query(impl.out, copy_sql);
        impl.send(d);
        std::optional<ServerError> err;
        std::uint64_t rows = 0;
        bool in_copy = false;
        try {
            while (true) {
                auto m = impl.next_message(d);
                switch (m.type) {
                    case 'H': in_copy = true; break;
                    case 'd':
                        if (!in_copy) throw Error(ErrorKind::protocol, "server sent CopyData outside COPY");
                        if (!err)
                            impl.session.call_user([&] {
                                on_data(std::string_view(reinterpret_cast<const char*>(m.body.data()), m.body.size()));
                            });
                        break;
                    case 'c': in_copy = false; break;
                    case 'C': {
                        Result r;
                        r.set_command_tag(protocol::parse_command_complete(m.body));
                        rows = r.affected_rows();
                        break;
                    }
                    case 'E':
                        if (!err) err.emplace(protocol::parse_error_fields(m.body));
                        in_copy = false;
                        break;
                    case 'G':
                        impl.out.clear();
                        protocol::copy_fail(impl.out, "copy_out() cannot send COPY FROM STDIN data");
                        impl.send(d);
                        break;
                    case 'T':
                    case 'D':
                        break;  // not a COPY statement: rows are ignored, reported below
                    case 'Z':
                        impl.session.transaction_status = protocol::parse_ready_for_query(m.body);
                        if (err) throw *err;
                        return rows;
                    default:
                        if (impl.session.handle_async(m)) break;
                        throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m.type) +
                                                             " message from server during COPY TO STDOUT");
                }
            }
        } catch (const ServerError&) {
            throw;
        } catch (const Error& e) {
            impl.fail_connection();
            // A FATAL (e.g. 57P01 from pg_terminate_backend) followed by the connection closing:
            // report the server's reason, as run() does.
            if (e.kind() == ErrorKind::connection && err) throw *err;
            throw;
        }
    });
}

CopyIn::CopyIn(CopyIn&& o) noexcept : client_(o.client_), buffer_(std::move(o.buffer_)), done_(o.done_) {
    o.done_ = true;
    o.client_ = nullptr;
}

Client& CopyIn::owner() const {
    if (!client_) throw Error(ErrorKind::usage, "this CopyIn was moved from: use the CopyIn it was moved to");
    return *client_;
}

void CopyIn::end() noexcept {
    done_ = true;
    if (client_ && client_->impl_) client_->impl_->copy_in_open = false;
}

CopyIn::~CopyIn() {
    if (!done_) {
        try {
            abort("COPY abandoned by the client");
        } catch (...) {
        }
    }
}

namespace {
constexpr std::size_t copy_chunk = 64 * 1024;

// An ErrorResponse may arrive while we are still sending (bad data): pick it up early.
void check_copy_error(Client::Impl& impl, transport::Deadline d) {
    if (!impl.channel.read_available(impl.reader) && impl.reader.buffered() == 0) return;
    std::optional<ServerError> err;
    while (auto m = impl.reader.next()) {
        if (m->type == 'E') {
            err.emplace(protocol::parse_error_fields(m->body));
            break;
        }
        if (!impl.session.handle_async(*m))
            throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m->type) +
                                                 " message from server during COPY FROM STDIN");
    }
    if (err) {
        try {
            drain_to_ready(impl, d, err);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::connection) throw;
            impl.fail_connection();  // a FATAL, then the server hung up: the FATAL is the error
        }
        throw *err;
    }
}

void drain_to_ready(Client::Impl& impl, transport::Deadline d, std::optional<ServerError>& err) {
    while (true) {
        auto m = impl.next_message(d);
        if (m.type == 'Z') {
            impl.session.transaction_status = protocol::parse_ready_for_query(m.body);
            return;
        }
        if (m.type == 'E' && !err) err.emplace(protocol::parse_error_fields(m.body));
    }
}
}  // namespace

void CopyIn::flush() {
    auto& impl = owner().live();
    if (buffer_.empty()) return;
    const Deadline d = impl.query_deadline();
    try {
        check_copy_error(impl, d);
        impl.channel.write_all(buffer_, d);
    } catch (const ServerError&) {
        end();
        buffer_.clear();
        throw;
    } catch (const Error& e) {
        end();
        // The server hung up (e.g. pg_terminate_backend): report its FATAL if it sent one.
        impl.fail_after_write(e);
    }
    buffer_.clear();
}

void CopyIn::write(std::string_view data) {
    auto& impl = owner().live();
    if (done_) throw Error(ErrorKind::usage, "COPY is already finished");
    guarded(impl, [&] {
        while (!data.empty()) {
            const std::size_t n = std::min(data.size(), copy_chunk);
            protocol::copy_data(buffer_, data.substr(0, n));
            data.remove_prefix(n);
            if (buffer_.size() >= copy_chunk) flush();
        }
    });
}

std::uint64_t CopyIn::finish() {
    auto& impl = owner().live();
    if (done_) throw Error(ErrorKind::usage, "COPY is already finished");
    return guarded(impl, [&]() -> std::uint64_t {
        protocol::copy_done(buffer_);
        flush();
        end();
        const Deadline d = impl.query_deadline();
        protocol::QueryFlow flow(protocol::QueryFlow::Kind::simple, impl.session);
        auto rs = impl.run(flow, d);
        return rs.empty() ? 0 : rs.back().affected_rows();
    });
}

void CopyIn::abort(std::string_view reason) {
    if (done_) return;
    auto& impl = owner().live();
    guarded(impl, [&] {
        buffer_.clear();
        protocol::copy_fail(buffer_, reason);
        end();
        const Deadline d = impl.query_deadline();
        try {
            impl.channel.write_all(buffer_, d);
            buffer_.clear();
            std::optional<ServerError> err;
            drain_to_ready(impl, d, err);
        } catch (const Error&) {
            impl.fail_connection();
            throw;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Pipeline

std::size_t Pipeline::add(std::string_view sql, const std::vector<Param>& params, ResultFormat format) {
    return add_params(sql, params, format);
}

std::size_t Pipeline::add_params(std::string_view sql, std::span<const Param> params, ResultFormat format) {
    client_.live().encode_extended(buffer_, nullptr, sql, params, format);
    return queued_++;
}

void Pipeline::sync() {
    protocol::sync(buffer_);
    sync_after_.push_back(queued_);
}

std::vector<PipelineResult> Pipeline::run() {
    auto& impl = client_.live();
    return guarded(impl, [&]() -> std::vector<PipelineResult> {
        impl.ensure_ready();
        if (sync_after_.empty() || sync_after_.back() != queued_) sync();
        const Deadline d = impl.query_deadline();
        std::vector<PipelineResult> results(queued_);
        protocol::PipelineFlow flow(results, sync_after_, impl.session);
        // What arrives while the pipeline is still being written is parsed at once (within the
        // session's caps), so a server that floods instead of reading cannot grow the buffer.
        const auto consume = [&] {
            while (!flow.done())
                if (auto m = impl.reader.next()) flow.on_message(*m);
                else break;
        };
        try {
            impl.channel.write_all_draining(buffer_, impl.reader, d, consume);
            impl.reply_pending = true;
        } catch (const Error& e) {
            impl.fail_after_write(e);  // the server's FATAL, if it sent one before hanging up
        }
        buffer_.clear();
        // Read every sync group: queries until the error (if any), the rest skipped, then 'Z'.
        try {
            while (!flow.done()) flow.on_message(impl.next_message(d));
        } catch (const Error&) {
            impl.fail_connection();
            throw;
        }
        queued_ = 0;
        sync_after_.clear();
        return results;
    });
}

// ---------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Client& client, std::string_view begin_sql) : client_(client) {
    const TransactionStatus st = client_.transaction_status();
    if (st == TransactionStatus::in_transaction || st == TransactionStatus::failed)
        throw Error(ErrorKind::usage,
                    "a transaction is already open on this client: transactions do not nest; use savepoints "
                    "(Transaction::savepoint, rollback_to, release) inside the open one");
    client_.query(begin_sql);
}

Transaction::~Transaction() {
    if (!open_) return;
    try {
        if (client_.is_healthy()) client_.query("ROLLBACK");
    } catch (...) {
    }
}

void Transaction::commit() {
    if (!open_) throw Error(ErrorKind::usage, "transaction is already finished");
    open_ = false;
    Result r = client_.query("COMMIT");
    // COMMIT of a failed transaction is reported by the server as ROLLBACK.
    if (r.command_tag() == "ROLLBACK")
        throw Error(ErrorKind::server, "COMMIT failed: the transaction was aborted by an earlier error and rolled back");
}

void Transaction::rollback() {
    if (!open_) throw Error(ErrorKind::usage, "transaction is already finished");
    open_ = false;
    client_.query("ROLLBACK");
}

namespace {
std::string quote_ident(std::string_view name) {
    std::string q = "\"";
    for (char c : name) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + '"';
}
}  // namespace

void Transaction::savepoint(std::string_view name) { client_.query("SAVEPOINT " + quote_ident(name)); }
void Transaction::rollback_to(std::string_view name) { client_.query("ROLLBACK TO SAVEPOINT " + quote_ident(name)); }
void Transaction::release(std::string_view name) { client_.query("RELEASE SAVEPOINT " + quote_ident(name)); }

}  // namespace pgtls
