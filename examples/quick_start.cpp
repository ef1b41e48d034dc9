// The library quick start of README.md, compiled with the examples so it stays true:
// connect with TLS, parameters and typed results, a transaction, streaming, COPY, a pool and
// errors.
//
//   quick_start CONNINFO      e.g. "host=db sslmode=verify-full sslrootcert=ca.crt user=app"
#include <pgtls/pgtls.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    const std::string conninfo = argc > 1 ? argv[1] : "";
    try {
        // Connect: libpq's connection strings, PG* variables, .pgpass and service files.
        pgtls::Client db(conninfo);
        std::cout << "TLS " << db.info().tls_version << " via " << db.info().backend << '\n';

        // Parameters are bound, never spliced into the SQL; results convert to C++ types.
        const auto r = db.exec("SELECT $1::int * 2, $2::text", 21, std::string("hello"));
        std::cout << r[0][0].as<int>() << ' ' << r[0][1].as<std::string>() << '\n';

        // A transaction: ROLLBACK unless commit() runs.
        db.query("CREATE TEMP TABLE item(id int PRIMARY KEY, name text)");
        {
            pgtls::Transaction tx(db);
            db.exec("INSERT INTO item VALUES ($1, $2)", 1, std::string("one"));
            tx.commit();
        }

        // COPY FROM STDIN, then stream the rows back in constant memory.
        auto copy = db.copy_in("COPY item FROM STDIN");
        copy.write("2\ttwo\n3\tthree\n");
        copy.finish();
        db.stream("SELECT id, name FROM item ORDER BY id", {}, [](const pgtls::Row& row) {
            std::cout << row[0].as<int>() << '=' << row[1].as<std::string>() << '\n';
        });

        // Server errors carry every field of the ErrorResponse.
        try {
            db.query("SELECT 1/0");
        } catch (const pgtls::ServerError& e) {
            std::cout << "SQLSTATE " << e.sqlstate() << '\n';
        }

        // A pool: one TLS setup shared by its connections, leases returned on scope exit.
        pgtls::PoolOptions options;
        options.max_size = 4;
        pgtls::Pool pool(conninfo, options);
        auto lease = pool.acquire();
        std::cout << lease->query("SELECT 'pooled'")[0][0].as<std::string>() << '\n';
        return 0;
    } catch (const pgtls::Error& e) {
        std::cerr << "quick_start: " << e.what() << '\n';
        return 1;
    }
}
