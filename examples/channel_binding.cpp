// SCRAM channel binding (node-postgres' enableChannelBinding): channel_binding=require makes
// the connection fail unless SCRAM-SHA-256-PLUS bound to the server certificate
// (tls-server-end-point) was used. On a Client and on a Pool.
//
//   channel_binding [CONNINFO]   (PG* environment variables apply; user must use SCRAM)
#include <iostream>

#include "pgtls/pgtls.hpp"

int main(int argc, char** argv) {
    try {
        pgtls::Config config;
        config.conninfo = argc > 1 ? argv[1] : "";
        config.sslmode = pgtls::SslMode::require;
        config.channel_binding = pgtls::ChannelBinding::require;

        pgtls::Client client(config);
        std::cout << "client: auth=" << client.info().auth_method
                  << " channel_binding=" << (client.info().channel_binding ? "yes" : "no") << " ("
                  << client.info().backend << ")\n";
        client.close();

        pgtls::Pool pool(config);
        {
            auto lease = pool.acquire();
            std::cout << "pool: auth=" << lease->info().auth_method
                      << " channel_binding=" << (lease->info().channel_binding ? "yes" : "no") << '\n';
        }
        pool.close();
        return 0;
    } catch (const pgtls::Error& e) {
        std::cerr << "channel_binding: " << e.what() << '\n';
        return e.kind() == pgtls::ErrorKind::config ? 3 : 2;
    }
}
