// pgtls — a blocking PostgreSQL connection with timeouts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgtls/config.hpp"
#include "pgtls/error.hpp"
#include "pgtls/result.hpp"
#include "pgtls/types.hpp"

namespace pgtls {

enum class TransactionStatus { idle, in_transaction, failed, unknown /* not connected / mid-query */ };
const char* to_string(TransactionStatus) noexcept;

// A NoticeResponse (or a pgtls warning, with severity "WARNING" and sqlstate empty).
struct Notice {
    ServerErrorFields fields;
};

struct Notification {
    std::int32_t backend_pid = 0;
    std::string channel;
    std::string payload;
};

// What a connection negotiated, for logs and `pgtls ping`.
struct ConnectionInfo {
    std::string host;                  // as given (name, address or socket dir)
    std::string address;               // address actually connected to
    std::uint16_t port = 0;
    bool ssl = false;
    std::string negotiation;           // "postgres" (SSLRequest) or "direct"; empty without TLS
    std::string backend;               // TLS backend name
    std::string backend_version;       // library version string
    std::string tls_version;
    std::string cipher;
    std::string alpn;
    std::string server_cert_subject;
    std::string server_cert_issuer;
    bool client_cert_sent = false;
    std::string auth_method;           // "trust", "password", "md5", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"
    bool channel_binding = false;
    std::int32_t backend_pid = 0;
    std::string server_version;
    struct Timings {
        double tcp_connect_ms = 0, tls_handshake_ms = 0, authentication_ms = 0, total_ms = 0;
    } timings;
};

using Params = std::vector<Param>;

class Client {
public:
    Client();
    // Connect at once; throws pgtls::Error on failure.
    explicit Client(const Config& config);
    explicit Client(const std::string& conninfo);
    explicit Client(Settings settings);
    ~Client();
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;

    void connect(const Config& config);
    void connect(Settings settings);
    // Terminate politely (Terminate message, TLS close_notify) and close the socket.
    void close() noexcept;
    bool is_open() const noexcept;
    // False after an I/O or protocol error: the connection cannot be used any more.
    bool is_healthy() const noexcept;

    // Simple query protocol; several statements give several results (the last is returned
    // by query(), all by query_all()). Throws ServerError on the first failing statement.
    Result query(std::string_view sql);
    std::vector<Result> query_all(std::string_view sql);

    // Extended protocol with the unnamed statement: Parse/Bind/Describe/Execute/Sync.
    Result execute(std::string_view sql, const Params& params = {});
    template <typename... Args>
    Result exec(std::string_view sql, const Args&... args) {
        return execute(sql, Params{to_param(args)...});
    }

    // Per-call client-side timeout for queries (0 = none). On expiry the query is cancelled on
    // the server and Error(timeout) is thrown; the connection stays usable.
    void set_query_timeout(std::chrono::milliseconds timeout) noexcept;

    TransactionStatus transaction_status() const noexcept;
    std::optional<std::string> parameter_status(const std::string& name) const;
    const ConnectionInfo& info() const noexcept;
    const Settings& settings() const noexcept;
    int socket() const noexcept;

    // Ask the server to cancel the running query (new connection, same host and TLS settings).
    // Safe to call from another thread.
    void cancel();

    void set_notice_handler(std::function<void(const Notice&)> handler);
    // Notifications received so far (queued during queries), oldest first.
    std::vector<Notification> take_notifications();
    // Wait up to `timeout` for a notification; nullopt on timeout.
    std::optional<Notification> wait_for_notification(std::chrono::milliseconds timeout);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pgtls
