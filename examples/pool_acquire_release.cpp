// node-postgres: `const pool = new Pool(config); const client = await pool.connect();
// ... client.release(); await pool.end()`. A pgtls Lease returns its connection on release()
// (or when it goes out of scope); Pool::close() is pool.end().
//
//   pool_acquire_release [CONNINFO]   (PG* environment variables apply as in libpq)
#include <iostream>

#include "pgtls/pgtls.hpp"

int main(int argc, char** argv) {
    try {
        pgtls::PoolOptions options;
        options.max_size = 2;
        pgtls::Config config;
        config.conninfo = argc > 1 ? argv[1] : "";
        pgtls::Pool pool(config, options);

        auto client = pool.acquire();
        auto pid = client->query("SELECT pg_backend_pid()")[0][0].as<int>();
        std::cout << "acquired connection " << client.connection_id() << " (server pid " << pid << ", "
                  << (client->info().ssl ? client->info().tls_version : std::string("no TLS")) << ")\n";
        client.release();
        auto stats = pool.stats();
        std::cout << "released: idle=" << stats.idle << " in_use=" << stats.in_use << '\n';

        pool.close();
        std::cout << "pool ended: closed=" << (pool.is_closed() ? "yes" : "no")
                  << " open connections=" << pool.stats().total << '\n';
        return 0;
    } catch (const pgtls::Error& e) {
        std::cerr << "pool_acquire_release: " << e.what() << '\n';
        return 2;
    }
}
