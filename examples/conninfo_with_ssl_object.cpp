// node-postgres "Usage with connectionString": a connection string and an in-code `ssl`
// object together. node-postgres lets sslmode in the string replace the ssl object; pgtls
// merges them setting by setting — the string's sslmode/sslcert/sslkey stay, the code's root
// certificate is added — and prints where each effective setting came from.
//
//   conninfo_with_ssl_object CONNINFO CA_FILE
// e.g. CONNINFO = "postgresql://certuser@localhost:5432/pgtls?sslmode=verify-full&sslcert=client.crt&sslkey=client.key"
#include <fstream>
#include <iostream>
#include <sstream>

#include "pgtls/pgtls.hpp"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: conninfo_with_ssl_object CONNINFO CA_FILE\n";
        return 3;
    }
    try {
        std::ifstream in(argv[2], std::ios::binary);
        if (!in) throw pgtls::Error(pgtls::ErrorKind::config, std::string("cannot read ") + argv[2]);
        std::ostringstream ca;
        ca << in.rdbuf();

        pgtls::Config config;
        config.conninfo = argv[1];
        config.sslrootcert = pgtls::Pem::bytes(ca.str());  // the "ssl object"

        std::cout << "effective settings:\n" << pgtls::describe_settings(pgtls::resolve(config), false);

        pgtls::Client client(config);
        const auto& info = client.info();
        std::cout << "connected: " << info.tls_version << " (" << info.backend << "), client certificate "
                  << (info.client_cert_sent ? "sent" : "not sent") << ", auth " << info.auth_method << '\n';
        client.close();
        return 0;
    } catch (const pgtls::Error& e) {
        std::cerr << "conninfo_with_ssl_object: " << e.what() << '\n';
        return e.kind() == pgtls::ErrorKind::config ? 3 : 2;
    }
}
