// The server connection lost in the middle of COPY, against the real PostgreSQL 15 server, in
// plaintext and with sslmode=require on every TLS backend, with both drivers (the blocking
// Client and the AsyncConnection): the backend terminated by
// pg_terminate_backend from another session, and the stream cut by a FaultProxy, both while
// COPY FROM STDIN is sending rows and while COPY TO STDOUT is delivering them. Each time a
// clear error within seconds, every row handed over before it is whole and correct, nothing
// of the aborted COPY FROM is committed, the next use of the client is an error, and no fd
// or thread is left behind.
#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "fault_checks.hpp"
#include "tests/support/proxy/fault_proxy.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;
using Direction = FaultProxy::Direction;

// The parameter: a TLS backend or "none", "_async" appended for the async driver.
class CopyFault : public ::testing::TestWithParam<std::string> {
protected:
    std::string backend() const { return split_driver(GetParam()).first; }
    DriverKind driver() const { return split_driver(GetParam()).second; }
    bool tls() const { return backend() != "none"; }
    std::string label() const {
        return (tls() ? backend() : "plaintext") + (driver() == DriverKind::async ? "_async" : "");
    }
    const TestServer& server() const { return test_env().server("pg15"); }
    std::string sslmode() const { return tls() ? " sslmode=require" : " sslmode=disable"; }

    Config direct() const { return config_for(test_env().conninfo(server(), "trustuser") + " connect_timeout=5" + sslmode(), backend()); }
    Config via(const FaultProxy& proxy) const {
        return config_for("host=127.0.0.1 port=" + std::to_string(proxy.port()) +
                              " dbname=pgtls user=trustuser connect_timeout=5" + sslmode(),
                          backend());
    }
    Client admin() const { return Client(config_for(test_env().conninfo(server(), "trustuser") + " sslmode=disable", "none")); }

    // A fresh table for this backend's COPY FROM.
    std::string fresh_table(const std::string& what) const {
        const std::string t = "faults_" + what + "_" + label();
        admin().query("DROP TABLE IF EXISTS " + t + "; DROP FUNCTION IF EXISTS " + t + "_stall(); DROP SEQUENCE IF EXISTS " + t +
                      "_batches; CREATE TABLE " + t + " (id int, v text)");
        return t;
    }
    // Makes a COPY FROM into `table` stall on the server once it has taken in `batches`
    // batches of copy_in_until_failure's rows (40 kB each): a row trigger sleeps for a minute.
    // The COPY then cannot finish before the fault a test injects, however fast the server
    // takes in rows and however slowly the client sends them (an ASan build, say).
    void stall_copy_after(const std::string& table, int batches) const {
        admin().query("CREATE SEQUENCE " + table + "_batches; "
                      "CREATE FUNCTION " + table + "_stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                      "IF NEW.id = 999 AND nextval('" + table + "_batches') >= " + std::to_string(batches) +
                      " THEN PERFORM pg_sleep(60); END IF; RETURN NEW; END $$; "
                      "CREATE TRIGGER stall BEFORE INSERT ON " + table + " FOR EACH ROW EXECUTE FUNCTION " + table + "_stall()");
    }
    long long rows_in(const std::string& table) const {
        return admin().query("SELECT count(*) FROM " + table)[0][0].as<long long>();
    }

    // Sends rows through COPY FROM STDIN until it fails (or 20 s pass), calling `after_first_mb`
    // once a megabyte has gone out. Returns the failure. The async driver takes the whole
    // stream at once: 64 MiB, far more than the server takes in before the fault, with
    // `after_first_mb` called once the socket is full (or 200 ms in).
    static Failure copy_in_until_failure(DriverConnection& dc, const std::string& table,
                                         const std::function<void()>& after_first_mb) {
        std::string batch;
        for (int i = 0; i < 1000; ++i) batch += std::to_string(i) + "\tsome row text to make the rows longer\n";
        if (AsyncConnection* a = dc.async()) return copy_in_async_until_failure(*a, table, batch, after_first_mb);
        Client& c = *dc.client();
        return run_failing([&] {
            auto in = c.copy_in("COPY " + table + " FROM STDIN");
            std::size_t sent = 0;
            bool signalled = false;
            const auto until = std::chrono::steady_clock::now() + 20s;
            while (std::chrono::steady_clock::now() < until) {
                in.write(batch);
                sent += batch.size();
                if (!signalled && sent >= (1u << 20)) {
                    signalled = true;
                    after_first_mb();
                }
            }
            in.finish();
        });
    }

    static Failure copy_in_async_until_failure(AsyncConnection& a, const std::string& table, const std::string& batch,
                                               const std::function<void()>& after_first_mb) {
        return run_failing([&] {
            std::string data;
            while (data.size() < (64u << 20)) data += batch;
            // Held by the callback too: when the loop gives up with the COPY still pending, the
            // callback runs later (the next operation, the connection's destructor) and must not
            // write into this unwound frame.
            const auto outcome = std::make_shared<std::optional<std::exception_ptr>>();
            a.copy_in("COPY " + table + " FROM STDIN", std::move(data),
                      [outcome](std::exception_ptr e, std::uint64_t) { *outcome = e; });
            const auto signal_at = AsyncConnection::Clock::now() + 200ms;
            bool started = false, signalled = false;
            const bool finished = run_async_loop(
                a,
                [&] {
                    // Waiting to write after the first advance: the socket is full of COPY data.
                    const bool blocked = started && a.watches()[0].write;
                    started = true;
                    if (!signalled && (blocked || AsyncConnection::Clock::now() >= signal_at)) {
                        signalled = true;
                        after_first_mb();
                    }
                    return outcome->has_value();
                },
                60s, signal_at);
            ASSERT_TRUE(finished) << "the async COPY FROM did not end";
            if (**outcome) std::rethrow_exception(**outcome);
        });
    }

    // generate_series in the select list streams (ProjectSet); in FROM it would be
    // materialized first.
    static constexpr const char* kCopyOutSql =
        "COPY (SELECT g, g * 7 FROM (SELECT generate_series(1, 100000000) AS g) s) TO STDOUT";

    // Reads a large COPY TO STDOUT of "g\tg*7" lines (`sql`), checking every line handed over;
    // calls `after_first_mb` once a megabyte has arrived. Returns the failure; `lines` counts
    // the good lines.
    static Failure copy_out_until_failure(DriverConnection& c, std::size_t& lines, const std::function<void()>& after_first_mb,
                                          const char* sql = kCopyOutSql) {
        // What the row callback keeps, held by the callback: if the driver gives up with the COPY
        // still running, expect_dead's next operation can deliver more data to it after this
        // frame (and the caller's `after_first_mb`, often a temporary) is gone.
        struct State {
            std::size_t lines = 0, received = 0;
            bool signalled = false, bad = false;
            std::string carry;
            std::function<void()> after_first_mb;
        };
        const auto st = std::make_shared<State>();
        st->after_first_mb = after_first_mb;
        Failure f = run_failing([&] {
            c.copy_out(sql, [st](std::string_view d) {
                st->received += d.size();
                st->carry += d;
                std::size_t pos = 0, nl;
                while ((nl = st->carry.find('\n', pos)) != std::string::npos) {
                    const std::string_view line(st->carry.data() + pos, nl - pos);
                    const auto tab = line.find('\t');
                    long long a = 0, b = 0;
                    bool ok = tab != std::string_view::npos &&
                              std::from_chars(line.data(), line.data() + tab, a).ec == std::errc{} &&
                              std::from_chars(line.data() + tab + 1, line.data() + line.size(), b).ec == std::errc{};
                    ok = ok && a == static_cast<long long>(st->lines) + 1 && b == 7 * a;
                    if (!ok && !st->bad) {
                        st->bad = true;
                        ADD_FAILURE() << "wrong row after " << st->lines << " good ones: " << line;
                    }
                    ++st->lines;
                    pos = nl + 1;
                }
                st->carry.erase(0, pos);
                if (!st->signalled && st->received >= (1u << 20)) {
                    st->signalled = true;
                    st->after_first_mb();
                }
            });
        });
        lines = st->lines;
        EXPECT_TRUE(st->carry.empty()) << "a partial row was handed over: " << st->carry.substr(0, 80);
        return f;
    }

    // After the failure: the client refuses to be used, without a hang.
    void expect_dead(DriverConnection& c, const std::string& where) const {
        EXPECT_FALSE(c.is_healthy()) << where;
        const Failure next = run_failing([&] { c.query("SELECT 1"); });
        expect_failure(next, {ErrorKind::connection, ErrorKind::usage}, {}, 2000ms, where + ", next query");
    }
};

// pg_terminate_backend from another session, once the copy is well under way.
void terminate_soon(const Config& admin_config, int pid, std::thread& killer) {
    killer = std::thread([admin_config, pid] {
        Client admin(admin_config);
        admin.query("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
    });
}

TEST_P(CopyFault, CopyInBackendTerminated) {
    const std::string table = fresh_table("copy_in_term");
    // The server stalls after ~1.2 MB (30 batches): past the blocking driver's 1 MB signal,
    // and it fills the async driver's socket, which is its signal. Without the stall a fast
    // server took in all of the async driver's 64 MiB before the signal under ASan.
    stall_copy_after(table, 30);
    const ResourceBaseline baseline;
    {
        DriverConnection c(driver(), direct());
        const int pid = c.query("SELECT pg_backend_pid()")[0][0].as<int>();
        // Terminated while the server is stalled in the COPY: it cannot finish first.
        const Failure f = copy_in_until_failure(c, table, [&] {
            Client(direct()).query("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
        });
        // The write fails, but the server's FATAL came first: that is the error.
        expect_failure(f, {ErrorKind::server}, {"terminating connection due to administrator command"}, 25000ms,
                       label() + " COPY FROM, backend terminated");
        EXPECT_EQ(f.sqlstate, "57P01") << f.message;
        expect_dead(c, label() + " COPY FROM");
    }
    EXPECT_EQ(rows_in(table), 0) << "rows of an aborted COPY were committed";
    baseline.expect_unchanged(label() + " COPY FROM, backend terminated");
}

// The deterministic half of the next test: the backend is terminated while it is not
// blocked sending (it sleeps after row 200,000), so its FATAL must be what the caller sees,
// after every row sent before it.
TEST_P(CopyFault, CopyOutBackendTerminatedWhileWaitingReportsTheFatal) {
    const ResourceBaseline baseline;
    {
        DriverConnection c(driver(), direct());
        const int pid = c.query("SELECT pg_backend_pid()")[0][0].as<int>();
        std::thread killer;
        std::size_t lines = 0;
        const Failure f = copy_out_until_failure(
            c, lines, [&] { killer = terminate_when_waiting(direct(), pid); },
            "COPY (SELECT g, g * 7 FROM (SELECT generate_series(1, 100000000) AS g) s "
            "WHERE g <> 200000 OR pg_sleep(60) IS NOT NULL) TO STDOUT");
        killer.join();
        expect_failure(f, {ErrorKind::server}, {"terminating connection due to administrator command"}, 25000ms,
                       label() + " COPY TO, backend terminated in pg_sleep");
        EXPECT_EQ(f.sqlstate, "57P01") << f.message;
        EXPECT_EQ(lines, 199999u) << "every row before the sleep, and none after";
        expect_dead(c, label() + " COPY TO");
    }
    baseline.expect_unchanged(label() + " COPY TO, backend terminated in pg_sleep");
}

TEST_P(CopyFault, CopyOutBackendTerminated) {
    const ResourceBaseline baseline;
    {
        DriverConnection c(driver(), direct());
        const int pid = c.query("SELECT pg_backend_pid()")[0][0].as<int>();
        std::thread killer;
        std::size_t lines = 0;
        const Failure f = copy_out_until_failure(c, lines, [&] { terminate_soon(direct(), pid, killer); });
        killer.join();
        // Normally the server's FATAL arrives before it closes the connection: that is the
        // error. But a backend terminated while blocked on a full send buffer (the client
        // reading slower than the server writes: seen under ASan with gnutls and mbedtls)
        // sends no FATAL: PostgreSQL's ProcessClientWriteInterrupt drops it
        // (whereToSendOutput = DestNone) rather than block again or break the protocol
        // mid-message. The stream then just ends, between messages or in the middle of one
        // (or of a TLS record), and that must be a connection error saying the server closed
        // the connection. The test above checks the FATAL deterministically.
        if (f.kind == ErrorKind::connection) {
            expect_failure(f, {ErrorKind::connection}, {"server closed the connection unexpectedly"}, 25000ms,
                           label() + " COPY TO, backend terminated while blocked sending");
            EXPECT_EQ(f.sqlstate, "") << f.message;
        } else {
            expect_failure(f, {ErrorKind::server}, {"terminating connection due to administrator command"}, 25000ms,
                           label() + " COPY TO, backend terminated");
            EXPECT_EQ(f.sqlstate, "57P01") << f.message;
        }
        EXPECT_GT(lines, 1000u);
        expect_dead(c, label() + " COPY TO");
    }
    baseline.expect_unchanged(label() + " COPY TO, backend terminated");
}

// Client->server bytes of a clean startup through `proxy` with `config`.
std::size_t startup_bytes(FaultProxy& proxy, const Config& config, Direction d) {
    proxy.set_fault(std::nullopt);
    const std::size_t index = proxy.connections_accepted();
    {
        Client c(config);
    }
    std::size_t n = 0;
    for (const auto& ch : proxy.trace(index))
        if (ch.direction == d) n += ch.bytes;
    return n;
}

TEST_P(CopyFault, CopyInStreamCut) {
    const std::string table = fresh_table("copy_in_cut");
    const ResourceBaseline baseline;
    {
        FaultProxy proxy("127.0.0.1", server().port);
        const Config config = via(proxy);
        // Past the startup (whose Terminate is counted too: it is small), 3 MB into the COPY.
        const std::size_t at = startup_bytes(proxy, config, Direction::client_to_server) + (3u << 20);
        proxy.set_fault(FaultProxy::Fault{Direction::client_to_server, at, FaultProxy::Action::cut});
        DriverConnection c(driver(), config);
        const Failure f = copy_in_until_failure(c, table, [] {});
        expect_failure(f, {ErrorKind::connection}, {"closed", "Broken pipe", "reset"}, 25000ms, label() + " COPY FROM, stream cut");
        expect_dead(c, label() + " COPY FROM cut");
    }
    EXPECT_EQ(rows_in(table), 0) << "rows of a cut COPY were committed";
    baseline.expect_unchanged(label() + " COPY FROM, stream cut");
}

TEST_P(CopyFault, CopyOutStreamCut) {
    const ResourceBaseline baseline;
    {
        FaultProxy proxy("127.0.0.1", server().port);
        const Config config = via(proxy);
        // 3 MB (and 5 odd bytes, to land inside a message and a TLS record) into the COPY.
        const std::size_t at = startup_bytes(proxy, config, Direction::server_to_client) + (3u << 20) + 5;
        proxy.set_fault(FaultProxy::Fault{Direction::server_to_client, at, FaultProxy::Action::cut});
        DriverConnection c(driver(), config);
        std::size_t lines = 0;
        const Failure f = copy_out_until_failure(c, lines, [] {});
        expect_failure(f, {ErrorKind::connection}, {"closed"}, 25000ms, label() + " COPY TO, stream cut");
        // Inside a TLS record: every backend says so, in the same words.
        if (tls()) {
            EXPECT_NE(f.message.find("EOF in the middle of a TLS record"), std::string::npos) << label() << ": " << f.message;
        }
        EXPECT_GT(lines, 1000u);
        expect_dead(c, label() + " COPY TO cut");
    }
    baseline.expect_unchanged(label() + " COPY TO, stream cut");
}

INSTANTIATE_TEST_SUITE_P(Backends, CopyFault, ::testing::ValuesIn([] {
                             auto v = tls_backend_and_driver_names();
                             if (v.front() != "none") v.insert(v.begin(), {"none", "none_async"});
                             return v;
                         }()),
                         param_name);

}  // namespace
}  // namespace pgtls::test
