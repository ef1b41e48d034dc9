// node-postgres "Self-signed cert": a config whose ssl object carries ca, key and cert read
// from files. In pgtls the file contents go into Pem::bytes(); Pem::file(path) would let the
// library read them instead.
//
//   ssl_self_signed CA_FILE CERT_FILE KEY_FILE
// Host, port, database and user come from PGHOST, PGPORT, PGDATABASE, PGUSER (as in libpq).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "pgtls/pgtls.hpp"

static std::string read_file(const char* path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw pgtls::Error(pgtls::ErrorKind::config, std::string("cannot read ") + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: ssl_self_signed CA_FILE CERT_FILE KEY_FILE\n";
        return 3;
    }
    try {
        pgtls::Config config;
        // node-postgres passes rejectUnauthorized: false next to `ca`; with the CA at hand
        // pgtls verifies the chain and the host name instead (SslMode::no_verify is the
        // equivalent of rejectUnauthorized: false).
        config.sslmode = pgtls::SslMode::verify_full;
        config.sslrootcert = pgtls::Pem::bytes(read_file(argv[1]));
        config.sslcert = pgtls::Pem::bytes(read_file(argv[2]));
        config.sslkey = pgtls::Pem::bytes(read_file(argv[3]));

        pgtls::Client client(config);
        const auto& info = client.info();
        auto user = client.query("SELECT current_user")[0][0].as<std::string>();
        std::cout << "connected as " << user << " over " << info.tls_version << " (" << info.backend
                  << "), server certificate " << info.server_cert_subject << ", client certificate "
                  << (info.client_cert_sent ? "sent" : "not sent") << ", auth " << info.auth_method << '\n';
        client.close();
        return 0;
    } catch (const pgtls::Error& e) {
        std::cerr << "ssl_self_signed: " << e.what() << '\n';
        return 2;
    }
}
