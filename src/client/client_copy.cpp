// The blocking client's COPY (in and out), Pipeline and Transaction.
#include <algorithm>

#include "client/client_call.hpp"
#include "client/client_impl.hpp"
#include "client/trace_run.hpp"
#include "client/transaction_sql.hpp"
#include "protocol/backend_messages.hpp"
#include "protocol/frontend.hpp"
#include "protocol/copy.hpp"
#include "protocol/pipeline.hpp"
#include "protocol/query.hpp"

namespace pgtls {

using transport::Clock;
using transport::Deadline;


CopyIn Client::copy_in(std::string_view copy_sql) {
    auto& impl = live();
    return guarded(impl, [&]() -> CopyIn {
        impl.ensure_ready();
        protocol::CopyInStart q(impl.wire(), copy_sql, impl.request_options(impl.query_deadline()));
        impl.drive(q);
        impl.copy_in_open = true;
        return CopyIn(*this);
    });
}

std::uint64_t Client::copy_out(std::string_view copy_sql, const std::function<void(std::string_view)>& on_data) {
    auto& impl = live();
    return guarded(impl, [&]() -> std::uint64_t {
        impl.ensure_ready();
        protocol::CopyOut q(impl.wire(), copy_sql, on_data, impl.request_options(impl.query_deadline()));
        impl.drive(q);
        return q.rows();
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
}  // namespace

// Sends the buffered CopyData. An error the server reported meanwhile (bad data) ends the
// COPY: ServerError, the connection kept; a lost connection ends it too.
void CopyIn::flush() {
    auto& impl = owner().live();
    if (buffer_.empty()) return;
    try {
        protocol::CopyInData q(impl.wire(), buffer_, impl.request_options(impl.query_deadline()));
        impl.drive(q);
    } catch (...) {
        end();
        buffer_.clear();
        throw;
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

void CopyIn::write_framed(char* message, std::size_t size) {
    auto& impl = owner().live();
    if (done_) throw Error(ErrorKind::usage, "COPY is already finished");
    guarded(impl, [&] {
        protocol::frame_copy_data(message, size);
        flush();
        try {
            protocol::CopyInData q(impl.wire(), std::string_view(message, size), impl.request_options(impl.query_deadline()));
            impl.drive(q);
        } catch (...) {
            end();
            throw;
        }
    });
}

namespace {
// Sends `buffer` (the COPY's last CopyData, then CopyDone or CopyFail) and reads the COPY's
// outcome; the buffer is spent either way.
std::uint64_t end_copy(client::ClientCore& impl, std::string& buffer, protocol::CopyInEnd::How how) {
    struct Spent {
        std::string& b;
        ~Spent() { b.clear(); }
    } spent{buffer};
    protocol::CopyInEnd q(impl.wire(), buffer, how, impl.request_options(impl.query_deadline()));
    impl.drive(q);
    return q.rows();
}
}  // namespace

std::uint64_t CopyIn::finish() {
    auto& impl = owner().live();
    if (done_) throw Error(ErrorKind::usage, "COPY is already finished");
    return guarded(impl, [&]() -> std::uint64_t {
        protocol::copy_done(buffer_);
        end();
        return end_copy(impl, buffer_, protocol::CopyInEnd::How::finish);
    });
}

void CopyIn::abort(std::string_view reason) {
    if (done_) return;
    auto& impl = owner().live();
    guarded(impl, [&] {
        // Encoded first: a reason the protocol cannot carry (a NUL byte) is Error(usage) with
        // the COPY and its buffered rows as they were.
        std::string fail;
        protocol::copy_fail(fail, reason);
        buffer_ = std::move(fail);
        end();
        end_copy(impl, buffer_, protocol::CopyInEnd::How::abort);
    });
}

// ---------------------------------------------------------------------------------------------
// Pipeline

std::size_t Pipeline::add(std::string_view sql, const std::vector<Param>& params, ResultFormat format) {
    return add_params(sql, params, format);
}

std::size_t Pipeline::add_params(std::string_view sql, std::span<const Param> params, ResultFormat format) {
    auto& impl = client_.live();  // Error(usage) on a moved-from client, as before
    // After the first Sync, a statement of its own name (see encode_pipeline_query).
    names_.push_back(protocol::encode_pipeline_query(buffer_, !sync_after_.empty(), sql, params, format, impl.cache));
    if (trace::reports_query_text(impl.settings)) texts_.emplace_back(sql);  // its span's db.query.text
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
        std::vector<PipelineResult> results(queued_);
        // Sent or not, the queued queries are spent: the pipeline is empty afterwards.
        struct Reset {
            Pipeline& p;
            ~Reset() {
                p.buffer_.clear();
                p.queued_ = 0;
                p.sync_after_.clear();
                p.names_.clear();
                p.texts_.clear();
            }
        } reset{*this};
        protocol::PipelineRequest q(impl.wire(), buffer_, results, sync_after_,
                                    impl.request_options(impl.query_deadline()));
        q.set_texts(&texts_);
        impl.drive(q);
        impl.cache.after_pipeline(results);  // DEALLOCATE ALL
        // A failed query skipped its Close: its statement is closed now. The results stand
        // whatever that does (a connection that failed meanwhile is marked so by drive()).
        if (auto left = protocol::pipeline_leftovers(names_, results); !left.empty()) {
            protocol::CloseStatements close(impl.wire(), std::move(left), impl.request_options(impl.query_deadline()));
            try {
                impl.drive(close);
            } catch (const Error&) {
            }
        }
        return results;
    });
}

// ---------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Client& client, std::string_view begin_sql) : client_(client) {
    client::refuse_nested(client_.transaction_status());
    client_.query(begin_sql);
}

Transaction::Transaction(Client& client, const TransactionOptions& options)
    : Transaction(client, client::begin_statement(options)) {}

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
    client::check_committed(client_.query("COMMIT"));
}

void Transaction::rollback() {
    if (!open_) throw Error(ErrorKind::usage, "transaction is already finished");
    open_ = false;
    client_.query("ROLLBACK");
}

void Transaction::savepoint(std::string_view name) { client_.query(client::savepoint_statement("SAVEPOINT", name)); }
void Transaction::rollback_to(std::string_view name) {
    client_.query(client::savepoint_statement("ROLLBACK TO SAVEPOINT", name));
}
void Transaction::release(std::string_view name) { client_.query(client::savepoint_statement("RELEASE SAVEPOINT", name)); }

}  // namespace pgtls
