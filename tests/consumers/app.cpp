// A program outside the pgtls tree, built by each consumer project in this folder against an
// installed pgtls or as a subproject: it connects over TLS with the conninfo it is given,
// runs one query with a parameter and prints what the library and the headers say.
//
//   consumer_app CONNINFO      exit 0 when connected over TLS and the query answered
#include <pgtls/pgtls.hpp>

#include <iostream>
#include <string>

static_assert(PGTLS_VERSION_NUMBER >= 100, "pgtls version macros");

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: consumer_app CONNINFO\n";
        return 2;
    }
    try {
        pgtls::Client client(std::string{argv[1]});
        const int v = client.exec("SELECT $1::int + 1", 41)[0][0].as<int>();
        std::cout << "pgtls " << pgtls::version() << " (headers " << PGTLS_VERSION_STRING << "), ssl="
                  << (client.info().ssl ? "on" : "off") << " backend=" << client.info().backend << " answer=" << v
                  << '\n';
        return client.info().ssl && v == 42 && pgtls::version() == PGTLS_VERSION_STRING ? 0 : 1;
    } catch (const pgtls::Error& e) {
        std::cerr << "consumer_app: " << e.what() << '\n';
        return 1;
    }
}
