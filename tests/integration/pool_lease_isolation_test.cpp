// A pool lease starts clean (issue 15, point 2), against a real PostgreSQL 18 server on every
// TLS backend: what one borrower set on its connection's client side — notice handler, query
// timeout, statement cache capacity, LISTENs and queued notifications — never reaches the
// next borrower of the same connection. The soak runs in the integration suite, so
// scripts/sanitizers.sh checks it under ASan (a stale handler whose captures are freed is a
// heap-use-after-free there).
#include <gtest/gtest.h>

#include <memory>
#include <new>
#include <string>
#include <vector>

#include "integration_fixture.hpp"
#include "pgtls/pool.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRaiseNotice = "DO $$BEGIN RAISE NOTICE 'lease notice'; END$$";

class PoolLeaseIsolation : public BackendTest {
protected:
    // One connection, so every lease gets the same one.
    static PoolOptions one_connection() {
        PoolOptions o;
        o.max_size = 1;
        o.acquire_timeout = 20s;
        o.connect_timeout = 5s;
        return o;
    }
    static int backend_pid(Pool::Lease& lease) { return lease->query("SELECT pg_backend_pid()")[0][0].as<int>(); }
};

TEST_P(PoolLeaseIsolation, NextBorrowerGetsNeitherTheHandlerNorTheNotifications) {
    Pool pool(pg18_verified(), one_connection());
    Client notifier(pg18_verified());
    int a_notices = 0;
    int pid = 0;
    {
        auto a = pool.acquire();
        pid = backend_pid(a);
        a->set_notice_handler([&a_notices](const Notice&) { ++a_notices; });
        a->query("LISTEN lease_iso");
        a->query("NOTIFY lease_iso, 'payload of A'");  // queued on A's connection, not taken
        a->query(kRaiseNotice);
        ASSERT_EQ(a_notices, 1);
    }
    // Sent after A's release: a connection still listening would queue it for B.
    notifier.query("NOTIFY lease_iso, 'sent after A released'");
    auto b = pool.acquire();
    ASSERT_EQ(backend_pid(b), pid) << "the same connection is lent again";
    EXPECT_FALSE(b->notice_handler()) << "A's handler is still set";
    b->query(kRaiseNotice);
    EXPECT_EQ(a_notices, 1) << "B's notice reached A's handler";
    b->query("SELECT pg_sleep(0.05)");
    b->query("SELECT 1");
    const auto left = b->take_notifications();
    for (const auto& n : left) ADD_FAILURE() << "B got A's notification: " << n.channel << " " << n.payload;
    EXPECT_FALSE(b->listening());
    EXPECT_TRUE(b->query("SELECT pg_listening_channels()").size() == 0) << "A's LISTEN survived the release";
}

TEST_P(PoolLeaseIsolation, ListenSentInAPipelineIsEndedToo) {
    Pool pool(pg18_verified(), one_connection());
    Client notifier(pg18_verified());
    {
        auto a = pool.acquire();
        Pipeline p(*a);
        p.add("LISTEN lease_pipe");
        ASSERT_EQ(p.run().size(), 1u);
        EXPECT_TRUE(a->listening());
    }
    notifier.query("NOTIFY lease_pipe, 'for A only'");
    auto b = pool.acquire();
    b->query("SELECT pg_sleep(0.05)");
    b->query("SELECT 1");
    EXPECT_TRUE(b->take_notifications().empty());
    EXPECT_EQ(b->query("SELECT pg_listening_channels()").size(), 0u);
}

TEST_P(PoolLeaseIsolation, QueryTimeoutOfABorrowerIsNotInForceForTheNext) {
    Pool pool(pg18_verified(), one_connection());
    {
        auto a = pool.acquire();
        a->set_query_timeout(30ms);
        EXPECT_THROW(a->query("SELECT pg_sleep(1)"), Error);
    }
    auto b = pool.acquire();
    EXPECT_EQ(b->query_timeout(), 0ms);
    EXPECT_NO_THROW(b->query("SELECT pg_sleep(0.2)"));
    EXPECT_EQ(pool.stats().created, 1u);
}

TEST_P(PoolLeaseIsolation, AfterConnectSettingsAreWhatEachLeaseStartsWith) {
    auto o = one_connection();
    auto pool_notices = std::make_shared<int>(0);
    o.after_connect = [pool_notices](Client& c) {
        c.set_notice_handler([pool_notices](const Notice&) { ++*pool_notices; });
        c.set_query_timeout(20s);
        c.set_statement_cache_capacity(8);
    };
    Pool pool(pg18_verified(), o);
    int a_notices = 0;
    {
        auto a = pool.acquire();
        a->set_notice_handler([&a_notices](const Notice&) { ++a_notices; });
        a->set_query_timeout(1s);
        a->set_statement_cache_capacity(0);
    }
    auto b = pool.acquire();
    EXPECT_EQ(b->query_timeout(), 20s);
    EXPECT_EQ(b->statement_cache_capacity(), 8u);
    b->query(kRaiseNotice);
    EXPECT_EQ(a_notices, 0);
    EXPECT_EQ(*pool_notices, 1);
}

TEST_P(PoolLeaseIsolation, StatementCacheCapacityIsRestoredAndItsStatementsClosed) {
    Pool pool(pg18_verified(), one_connection());
    {
        auto a = pool.acquire();
        a->set_statement_cache_capacity(4);
        for (int i = 1; i <= 3; ++i)
            EXPECT_EQ(a->exec("SELECT $1::int + " + std::to_string(i), 1)[0][0].as<int>(), 1 + i);
        EXPECT_EQ(a->query("SELECT count(*) FROM pg_prepared_statements")[0][0].as<int>(), 3);
    }
    auto b = pool.acquire();
    EXPECT_EQ(b->statement_cache_capacity(), 0u);
    EXPECT_EQ(b->query("SELECT count(*) FROM pg_prepared_statements")[0][0].as<int>(), 0)
        << "statements cached for A are left prepared on the session";
}

TEST_P(PoolLeaseIsolation, NoticesOfTheReleaseItselfDoNotReachTheBorrowersHandler) {
    auto o = one_connection();
    o.reset_sql = "DO $$BEGIN RAISE NOTICE 'from reset_sql'; END$$";
    Pool pool(pg18_verified(), o);
    int a_notices = 0;
    {
        auto a = pool.acquire();
        a->set_notice_handler([&a_notices](const Notice&) { ++a_notices; });
        a->query("BEGIN");
        a->query("SELECT 1");
    }  // ROLLBACK, then reset_sql's notice
    EXPECT_EQ(a_notices, 0);
    EXPECT_EQ(pool.stats().created, 1u);
    EXPECT_EQ(pool.query("SELECT 3")[0][0].as<int>(), 3);
}

// A lease given back while its COPY FROM STDIN is still open (`pool.acquire()->copy_in(...)`,
// the lease a temporary): the connection is mid-COPY, and the next borrower must not get it
// (every statement of theirs would be refused, and the abandoned writer could still write).
TEST_P(PoolLeaseIsolation, AConnectionReleasedMidCopyIsNotLentAgain) {
    Pool pool(pg18_verified(), one_connection());
    // The abandoned writer is never destroyed: its Client is gone once the pool closed it.
    union Abandoned {
        Abandoned() {}
        ~Abandoned() {}
        CopyIn copy;
    } abandoned;
    int pid = 0;
    {
        auto a = pool.acquire();
        pid = backend_pid(a);
        a->query("CREATE TEMP TABLE copy_left_open (n int)");
        new (&abandoned.copy) CopyIn(a->copy_in("COPY copy_left_open FROM STDIN"));
    }
    auto b = pool.acquire();
    EXPECT_NE(backend_pid(b), pid) << "the connection left mid-COPY was lent again";
    EXPECT_EQ(pool.stats().destroyed_for(PoolCloseReason::unclean_release), 1u);
}

// 1,000 leases over two connections alternating handlers (each capturing memory freed right
// after its lease) and LISTENs: every notice reaches only the current lease's handler, every
// notification taken belongs to the current lease.
TEST_P(PoolLeaseIsolation, SoakOfAThousandLeasesAlternatingHandlersAndListens) {
    auto o = one_connection();
    o.max_size = 2;
    Pool pool(pg18_verified(), o);
    constexpr int kLeases = 1000;
    std::vector<int> handler_calls(kLeases, 0);
    int stale = 0;
    for (int i = 0; i < kLeases; ++i) {
        auto owned = std::make_unique<int>(i);  // freed after the lease: a stale call is a use-after-free
        {
            auto lease = pool.acquire();
            for (const auto& n : lease->take_notifications()) {
                ++stale;
                ADD_FAILURE() << "lease " << i << " got " << n.channel << " '" << n.payload << "'";
            }
            if (i % 2 == 0) {
                // Reads *p: freed once the lease is over, so a stale call is caught by ASan,
                // and counted wrong (never out of bounds) without it.
                lease->set_notice_handler(
                    [&handler_calls, i, p = owned.get()](const Notice&) { handler_calls[i] += 1 + (*p != i); });
                if (i % 4 == 0) lease->set_query_timeout(10s);
            }
            if (i % 3 == 0) {
                const std::string channel = "soak_" + std::to_string(i % 5);
                lease->query("LISTEN " + channel);
                lease->query("NOTIFY " + channel + ", '" + std::to_string(i) + "'");
                auto got = lease->take_notifications();
                ASSERT_EQ(got.size(), 1u) << "lease " << i;
                EXPECT_EQ(got[0].payload, std::to_string(i));
                lease->query("NOTIFY " + channel + ", 'left queued by " + std::to_string(i) + "'");
            }
            lease->query(kRaiseNotice);
            if (i % 4 != 0) {
                EXPECT_EQ(lease->query_timeout(), 0ms) << "lease " << i;
            }
        }
        if (stale > 5) break;
    }
    for (int i = 0; i < kLeases; ++i) EXPECT_EQ(handler_calls[i], i % 2 == 0 ? 1 : 0) << "handler of lease " << i;
    EXPECT_EQ(pool.stats().destroyed, 0u) << "leases were reset, not discarded";
}

PGTLS_INSTANTIATE_PER_BACKEND(PoolLeaseIsolation);

}  // namespace
}  // namespace pgtls::test
