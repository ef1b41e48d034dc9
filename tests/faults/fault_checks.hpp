// What every fault test checks after the fault: the caller got a clear Error of an expected
// kind, in bounded time, and the process holds no more file descriptors or threads than
// before (counted in /proc/self).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tls/tls_backend.hpp"
#include "pgtls/client.hpp"
#include "tests/integration/driver_connection.hpp"
#include "tests/support/env/process_counts.hpp"
#include "tests/support/env/sanitizers.hpp"
#include "tests/support/env/test_env.hpp"

namespace pgtls::test {

// fds and threads at construction; expect_unchanged() compares, allowing a moment for
// threads that are exiting to leave /proc.
class ResourceBaseline {
public:
    ResourceBaseline() : fds_(open_fds()), threads_(thread_count()) {}
    void expect_unchanged(const std::string& where) const {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while ((open_fds() != fds_ || thread_count() != threads_) && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        EXPECT_EQ(open_fds(), fds_) << where << ": file descriptors leaked";
        EXPECT_EQ(thread_count(), threads_) << where << ": threads leaked";
    }

private:
    std::size_t fds_, threads_;
};

// The connection kinds every fault is tried with: plaintext (sslmode=disable), and
// sslmode=require on every compiled TLS backend.
struct Variant {
    std::string backend;  // "none" for plaintext
    std::string sslmode;
    DriverKind driver = DriverKind::blocking;  // who runs the connection (see driver_variants())
};

inline std::vector<Variant> variants() {
    std::vector<Variant> v{{"none", "disable"}};
    for (const auto* b : tls::available_backends()) v.push_back({std::string(b->name()), "require"});
    return v;
}

// variants() with each driver: the blocking Client and the non-blocking AsyncConnection.
inline std::vector<Variant> driver_variants() {
    std::vector<Variant> v = variants();
    for (Variant a : variants()) {
        a.driver = DriverKind::async;
        v.push_back(a);
    }
    return v;
}

inline std::string label(const Variant& v) {
    return (v.backend == "none" ? "plaintext" : v.backend) + (v.driver == DriverKind::async ? " async" : "");
}

// The outcome of an operation that must fail.
struct Failure {
    bool threw = false;
    ErrorKind kind = ErrorKind::usage;
    std::string message;
    std::string sqlstate;  // for a ServerError
    std::chrono::milliseconds elapsed{0};
};

// Runs `op`, which must throw pgtls::Error; records what it threw and how long it took.
// Anything else than a pgtls::Error propagates (and fails the test).
inline Failure run_failing(const std::function<void()>& op) {
    Failure f;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        op();
    } catch (const ServerError& e) {
        f.threw = true;
        f.kind = e.kind();
        f.message = e.what();
        f.sqlstate = e.sqlstate();
    } catch (const Error& e) {
        f.threw = true;
        f.kind = e.kind();
        f.message = e.what();
    }
    f.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    return f;
}

inline bool kind_in(ErrorKind k, std::initializer_list<ErrorKind> kinds) {
    for (ErrorKind x : kinds)
        if (x == k) return true;
    return false;
}

inline std::string kinds_text(std::initializer_list<ErrorKind> kinds) {
    std::string s;
    for (ErrorKind x : kinds) s += std::string(s.empty() ? "" : "|") + to_string(x);
    return s;
}

// Expects `f` to be an Error of one of `kinds`, whose message contains one of `fragments`
// (when any are given), within `bound` (times sanitizer_slowdown() in a sanitizer build).
inline void expect_failure(const Failure& f, std::initializer_list<ErrorKind> kinds,
                           std::initializer_list<const char*> fragments, std::chrono::milliseconds bound,
                           const std::string& where) {
    ASSERT_TRUE(f.threw) << where << ": succeeded, expected an error";
    if (std::getenv("PGTLS_FAULTS_VERBOSE"))
        std::printf("%s: %s (%lld ms): %s\n", where.c_str(), to_string(f.kind), static_cast<long long>(f.elapsed.count()),
                    f.message.c_str());
    EXPECT_TRUE(kind_in(f.kind, kinds)) << where << ": error kind " << to_string(f.kind) << ", expected "
                                        << kinds_text(kinds) << ": " << f.message;
    if (fragments.size() > 0) {
        bool found = false;
        for (const char* frag : fragments) found = found || f.message.find(frag) != std::string::npos;
        EXPECT_TRUE(found) << where << ": message does not name the problem: " << f.message;
    }
    EXPECT_LE(f.elapsed, bound * sanitizer_slowdown()) << where << ": took " << f.elapsed.count() << " ms: " << f.message;
}

// pg_terminate_backend(pid), called on the returned thread from a connection of its own
// (`admin`: a Config or a conninfo) once that backend waits on `wait_event`, or after 10 s
// regardless. A backend terminated while it waits (in pg_sleep, say) is not blocked sending,
// so its FATAL reaches the client.
template <class AdminSpec>
std::thread terminate_when_waiting(AdminSpec admin, int pid, std::string wait_event = "PgSleep") {
    return std::thread([admin = std::move(admin), pid, wait_event = std::move(wait_event)] {
        Client c(admin);
        const std::string p = std::to_string(pid);
        for (int i = 0; i < 200; ++i) {
            const Result r = c.query("SELECT wait_event FROM pg_stat_activity WHERE pid = " + p);
            if (r.size() == 1 && !r[0][0].is_null() && r[0][0].as<std::string>() == wait_event) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        c.query("SELECT pg_terminate_backend(" + p + ")");
    });
}

// The TLS backends compiled in, as a test parameter ("none" in a build without any).
inline std::vector<std::string> tls_backend_names() {
    std::vector<std::string> v;
    for (const auto* b : tls::available_backends()) v.emplace_back(b->name());
    if (v.empty()) v.emplace_back("none");
    return v;
}

inline std::string param_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

// tls_backend_names(), each also with "_async" appended: a suite instantiated with these runs
// every case with the blocking Client and with the AsyncConnection (see split_driver()).
inline std::vector<std::string> tls_backend_and_driver_names() {
    std::vector<std::string> v;
    for (const std::string& b : tls_backend_names()) {
        v.push_back(b);
        v.push_back(b + "_async");
    }
    return v;
}

// A parameter of tls_backend_and_driver_names(): the backend name, and the driver.
inline std::pair<std::string, DriverKind> split_driver(const std::string& param) {
    constexpr std::string_view suffix = "_async";
    if (param.size() > suffix.size() && param.compare(param.size() - suffix.size(), suffix.size(), suffix) == 0)
        return {param.substr(0, param.size() - suffix.size()), DriverKind::async};
    return {param, DriverKind::blocking};
}

// A Config for `conninfo` with the environment ignored and, unless "none", that TLS backend.
inline Config config_for(const std::string& conninfo, const std::string& backend) {
    Config c;
    c.use_environment = false;
    c.conninfo = conninfo;
    if (backend != "none") c.sslbackend = backend;
    return c;
}

}  // namespace pgtls::test
