// Direct TLS negotiation (PostgreSQL 17+): the TLS handshake starts at once, with ALPN
// "postgresql", instead of after an SSLRequest. Once from the Config, once from a URI.
//
//   direct_negotiation HOST PORT
// Database, user and password come from PGDATABASE, PGUSER, PGPASSWORD (as in libpq).
#include <iostream>
#include <string>

#include "pgtls/pgtls.hpp"

static void report(const char* how, pgtls::Client& client) {
    const auto& info = client.info();
    std::cout << how << ": negotiation=" << info.negotiation << " alpn=" << info.alpn << " "
              << info.tls_version << " (" << info.backend << ") server " << info.server_version << '\n';
    client.close();
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: direct_negotiation HOST PORT\n";
        return 3;
    }
    try {
        pgtls::Config config;
        config.host = argv[1];
        config.port = argv[2];
        config.sslmode = pgtls::SslMode::require;  // direct negotiation refuses weaker modes
        config.sslnegotiation = pgtls::SslNegotiation::direct;
        pgtls::Client from_config(config);
        report("from config", from_config);

        std::string host = argv[1];
        if (host.find(':') != std::string::npos) host = "[" + host + "]";
        pgtls::Client from_uri(
            std::string("postgresql://") + host + ":" + argv[2] + "/?sslmode=require&sslnegotiation=direct");
        report("from URI", from_uri);
        return 0;
    } catch (const pgtls::Error& e) {
        std::cerr << "direct_negotiation: " << e.what() << '\n';
        return e.kind() == pgtls::ErrorKind::config ? 3 : 2;
    }
}
