// node-postgres: `const client = new Client(config); await client.connect(); ... await client.end()`.
// pgtls connects in the constructor (or connect()) and ends with close(), which sends
// Terminate and a TLS close_notify.
//
//   client_connect_end [CONNINFO]     (PG* environment variables apply as in libpq)
#include <iostream>

#include "pgtls/pgtls.hpp"

int main(int argc, char** argv) {
    try {
        pgtls::Config config;
        config.conninfo = argc > 1 ? argv[1] : "";
        pgtls::Client client;  // not connected yet
        client.connect(config);
        std::cout << "connected: ssl=" << (client.info().ssl ? "on" : "off") << " backend=" << client.info().backend
                  << " tls=" << client.info().tls_version << '\n';
        auto now = client.query("SELECT now()::text")[0][0].as<std::string>();
        std::cout << "server time: " << now << '\n';
        client.close();
        std::cout << "ended: open=" << (client.is_open() ? "yes" : "no") << '\n';
        return 0;
    } catch (const pgtls::Error& e) {
        std::cerr << "client_connect_end: " << e.what() << '\n';
        return 2;
    }
}
