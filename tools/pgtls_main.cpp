// `pgtls` — run SQL, show what a connection negotiated, explain resolved settings, list the
// compiled TLS backends. Exit status: 0 ok, 1 SQL error, 2 connection/TLS/authentication
// failure, 3 bad arguments or configuration.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "pgtls/backends.hpp"
#include "pgtls/client.hpp"
#include "pgtls/config.hpp"
#include "pgtls/error.hpp"
#include "output_buffer.hpp"
#include "progress_line.hpp"
#include "result_output.hpp"
#include "sql_splitter.hpp"
#include "stream_export.hpp"

#ifndef PGTLS_VERSION
#define PGTLS_VERSION "unknown"
#endif

namespace {

using namespace pgtls;
using pgtls::cli::OutputFormat;

constexpr int exit_ok = 0, exit_sql = 1, exit_connection = 2, exit_usage = 3;

const char* const main_help =
    "Usage: pgtls [OPTIONS] [CONNINFO]\n"
    "       pgtls ping [--json] [--backend NAME] [CONNINFO]\n"
    "       pgtls conninfo [--json] [--backend NAME] [CONNINFO]\n"
    "       pgtls backends [--json]\n"
    "\n"
    "Runs SQL on a PostgreSQL server over pgtls (no libpq). CONNINFO is a libpq connection\n"
    "string (\"host=db sslmode=verify-full\") or URI (postgresql://user@db/app?sslmode=require);\n"
    "PG* environment variables, the service file and .pgpass apply as in libpq.\n"
    "\n"
    "Options:\n"
    "  -c, --command SQL   run SQL (repeatable, in order); without -c, SQL is read from stdin\n"
    "                      and sent statement by statement (split at ';' outside quotes,\n"
    "                      dollar quotes and comments); the first error stops the run\n"
    "  -f, --format FMT    table (default, like psql), csv, or json (one line per statement);\n"
    "                      csv and json rows of a query are written as they arrive\n"
    "  -o, --output FILE   write results to FILE (created or truncated) instead of stdout\n"
    "  -b, --backend NAME  TLS backend: openssl, gnutls, mbedtls or wolfssl (sets sslbackend)\n"
    "  -q, --quiet         do not print command tags of statements without rows\n"
    "  -h, --help          this help; `pgtls COMMAND --help` for a subcommand\n"
    "  -V, --version       print the version\n"
    "\n"
    "A csv or json export shows a progress line (rows, bytes, rate) on stderr when stderr is a\n"
    "terminal and the output is not.\n"
    "\n"
    "Exit status: 0 success, 1 SQL error, 2 connection/TLS/authentication failure,\n"
    "3 bad arguments or configuration.\n";

const char* const ping_help =
    "Usage: pgtls ping [--json] [--backend NAME] [CONNINFO]\n"
    "\n"
    "Connects, runs SELECT 1 and reports what was negotiated: backend and its library\n"
    "version, negotiation (postgres or direct), encryption (tls or plaintext), TLS on/off, TLS\n"
    "version, cipher, ALPN, server certificate subject and issuer, authentication method\n"
    "(trust, password, md5, SCRAM-SHA-256[-PLUS], gss), channel binding, server version\n"
    "and the time spent per phase (tcp_connect, tls_handshake, authentication, first_query).\n"
    "\n"
    "  --json              one JSON object: backend, backend_version, negotiation, encryption, ssl,\n"
    "                      tls_version, cipher, alpn, server_cert_subject, server_cert_issuer,\n"
    "                      client_cert_sent, auth_method, channel_binding, server_version,\n"
    "                      host, address, port, timings_ms{tcp_connect, tls_handshake,\n"
    "                      authentication, first_query, total}\n"
    "  -b, --backend NAME  TLS backend to use\n"
    "  -h, --help          this help\n";

const char* const conninfo_help =
    "Usage: pgtls conninfo [--json] [--backend NAME] [CONNINFO]\n"
    "\n"
    "Prints every resolved setting, its value (passwords and keys masked) and where it came\n"
    "from (code, connection_string, service_file, environment, default), the host list and\n"
    "warnings. Does not connect.\n"
    "\n"
    "  --json              one JSON object {\"settings\":[...],\"hosts\":[...],\"warnings\":[...]}\n"
    "  -b, --backend NAME  as the connection would use it\n"
    "  -h, --help          this help\n";

const char* const backends_help =
    "Usage: pgtls backends [--json]\n"
    "\n"
    "Lists the TLS backends compiled in (the first is the default), their library versions\n"
    "and capabilities.\n"
    "\n"
    "  --json              one JSON array of {name, library_version, default, capabilities[]}\n"
    "  -h, --help          this help\n";

struct UsageError {
    std::string message;
};

// -o FILE cannot be opened: exit 3, without the usage hint.
struct OutputFileError {
    std::string message;
};

struct Options {
    std::string command;  // "", "ping", "conninfo", "backends"
    std::vector<std::string> sql;
    OutputFormat format = OutputFormat::table;
    std::optional<std::string> backend;
    std::optional<std::string> conninfo;
    std::optional<std::string> output;  // -o FILE
    bool json = false;
    bool quiet = false;
    bool help = false;
    bool version = false;
};

Options parse_arguments(int argc, char** argv) {
    Options o;
    std::vector<std::string> args(argv + 1, argv + argc);
    std::size_t i = 0;
    if (i < args.size() && (args[i] == "ping" || args[i] == "conninfo" || args[i] == "backends")) o.command = args[i++];
    auto value_of = [&](const std::string& opt) -> std::string {
        if (i + 1 >= args.size()) throw UsageError{"option " + opt + " needs a value"};
        return args[++i];
    };
    bool only_positional = false;
    for (; i < args.size(); ++i) {
        std::string a = args[i];
        std::optional<std::string> inline_value;
        if (!only_positional && a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
            inline_value = a.substr(a.find('=') + 1);
            a = a.substr(0, a.find('='));
        }
        auto value = [&] { return inline_value ? *inline_value : value_of(a); };
        bool sql_mode = o.command.empty();
        if (only_positional || a.empty() || a[0] != '-' || a == "-") {
            if (o.conninfo)
                throw UsageError{"more than one connection string given: '" + masked_connection_string(*o.conninfo) +
                                 "' and '" + masked_connection_string(a) + "'"};
            o.conninfo = a;
        } else if (a == "--") {
            only_positional = true;
        } else if (a == "-h" || a == "--help") {
            o.help = true;
        } else if ((a == "-V" || a == "--version") && sql_mode) {
            o.version = true;
        } else if ((a == "-b" || a == "--backend") && o.command != "backends") {
            o.backend = value();
        } else if (a == "--json" && !sql_mode) {
            o.json = true;
        } else if ((a == "-c" || a == "--command") && sql_mode) {
            o.sql.push_back(value());
        } else if ((a == "-o" || a == "--output") && sql_mode) {
            o.output = value();
        } else if ((a == "-q" || a == "--quiet") && sql_mode) {
            o.quiet = true;
        } else if ((a == "-f" || a == "--format") && sql_mode) {
            std::string f = value();
            if (f == "table" || f == "aligned") o.format = OutputFormat::table;
            else if (f == "csv") o.format = OutputFormat::csv;
            else if (f == "json") o.format = OutputFormat::json;
            else throw UsageError{"--format '" + f + "' is not one of table, csv, json"};
        } else {
            // Named without an inline value: "--pasword=secret" must not echo the secret.
            throw UsageError{"unknown option '" + a + "'" + (o.command.empty() ? "" : " for '" + o.command + "'")};
        }
        if (inline_value && (a == "-h" || a == "--help" || a == "--json" || a == "--quiet"))
            throw UsageError{"option " + a + " takes no value"};
    }
    if (o.command == "backends" && o.conninfo) throw UsageError{"'backends' takes no connection string"};
    return o;
}

Config make_config(const Options& o) {
    Config config;
    config.use_environment = true;
    if (o.conninfo) config.conninfo = *o.conninfo;
    if (o.backend) config.sslbackend = *o.backend;
    return config;
}

int exit_code_of(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::server: return exit_sql;
        case ErrorKind::config:
        case ErrorKind::usage: return exit_usage;
        default: return exit_connection;
    }
}

// One line for the error, plus DETAIL and HINT as the server gave them.
int report(const std::exception& e) {
    std::string message = e.what();
    std::cerr << "pgtls: " << message << '\n';
    if (auto* se = dynamic_cast<const ServerError*>(&e)) {
        if (!se->fields().detail.empty()) std::cerr << "DETAIL:  " << se->fields().detail << '\n';
        if (!se->fields().hint.empty()) std::cerr << "HINT:  " << se->fields().hint << '\n';
    }
    if (auto* pe = dynamic_cast<const Error*>(&e)) return exit_code_of(pe->kind());
    return exit_connection;
}

void print_notice(const Notice& n) {
    const auto& f = n.fields;
    std::cerr << (f.severity.empty() ? "NOTICE" : f.severity) << ":  " << f.message << '\n';
    if (!f.detail.empty()) std::cerr << "DETAIL:  " << f.detail << '\n';
    if (!f.hint.empty()) std::cerr << "HINT:  " << f.hint << '\n';
}

// Resolves first so configuration mistakes exit 3 before any network activity.
Settings resolve_or_throw(const Options& o) {
    Settings s = resolve(make_config(o));
    for (const auto& w : s.warnings) std::cerr << "pgtls: warning: " << w << '\n';
    return s;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string fixed(double v) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(3) << v;
    return s.str();
}

// The -o file (created or truncated, as a shell's '>'), or standard output.
class OutputTarget {
public:
    explicit OutputTarget(const std::optional<std::string>& path) {
        if (!path) return;
        fd_ = ::open(path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd_ < 0) throw OutputFileError{"cannot open output file '" + *path + "': " + std::strerror(errno)};
        name_ = "'" + *path + "'";
    }
    OutputTarget(const OutputTarget&) = delete;
    OutputTarget& operator=(const OutputTarget&) = delete;
    ~OutputTarget() {
        if (fd_ != STDOUT_FILENO) ::close(fd_);
    }
    int fd() const noexcept { return fd_; }
    const std::string& name() const noexcept { return name_; }

private:
    int fd_ = STDOUT_FILENO;
    std::string name_ = "standard output";
};

// A statement's server error, as psql shows it; the output so far is written first, and
// the progress line erased, so the message follows the rows it interrupted.
void report_statement_error(const ServerError& e, const cli::Statement& st, cli::OutputBuffer& out,
                            cli::ProgressLine& progress) {
    progress.finish();
    std::exception_ptr write_failure;
    try {
        out.flush();
    } catch (const cli::OutputError&) {
        write_failure = std::current_exception();  // reported after the SQL error
    }
    if (st.line > 0) std::cerr << "pgtls: <stdin>:" << st.line << ": " << e.what() << '\n';
    else std::cerr << "pgtls: " << e.what() << '\n';
    if (!e.fields().detail.empty()) std::cerr << "DETAIL:  " << e.fields().detail << '\n';
    if (!e.fields().hint.empty()) std::cerr << "HINT:  " << e.fields().hint << '\n';
    if (write_failure) std::rethrow_exception(write_failure);
}

// A statement that can return rows is streamed when it is a single statement: a -c text
// holding several goes as one simple query as psql -c sends it (one implicit transaction),
// buffered. Every other statement also stays a simple query, exactly as before: streaming
// it would gain nothing and cost a round trip (and COPY must not be streamed: stream(), the
// extended protocol, does not answer a CopyInResponse and would wait forever). Classifying
// by the first word cannot change the output, only whether rows are held. json streams only
// the statements whose command tag is surely "SELECT <rows>", as stream() reports no tag.
std::optional<std::string> streamable_statement(const cli::Statement& st, bool from_stdin, OutputFormat format) {
    std::string sql = st.sql;
    if (!from_stdin) {
        auto parts = cli::split_statements(sql);
        if (parts.size() != 1) return std::nullopt;
        sql = std::move(parts[0].sql);
    }
    static const std::vector<std::string> select_words = {"select", "values", "table", "("};
    static const std::vector<std::string> other_row_words = {"with", "fetch", "execute", "show", "explain"};
    const std::string word = cli::first_word(sql);
    auto in = [&](const std::vector<std::string>& words) {
        return std::find(words.begin(), words.end(), word) != words.end();
    };
    if (format == OutputFormat::table) return std::nullopt;
    if (in(select_words) || (format == OutputFormat::csv && in(other_row_words))) return sql;
    return std::nullopt;
}

int run_sql(const Options& o) {
    std::vector<cli::Statement> statements;
    const bool from_stdin = o.sql.empty();
    if (!from_stdin) {
        for (const auto& s : o.sql) statements.push_back({s, 0});
    } else {
        if (isatty(STDIN_FILENO)) throw UsageError{"no SQL given: use -c SQL or pipe statements on stdin"};
        std::string script((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
        statements = cli::split_statements(script);
    }
    Settings settings = resolve_or_throw(o);
    OutputTarget target(o.output);
    cli::OutputBuffer out(target.fd(), target.name());
    // Locals die in reverse order: on any exception the progress line is erased, then the
    // rows so far are written, before main() reports the error.
    cli::ProgressLine progress(o.format != OutputFormat::table && isatty(STDERR_FILENO) && !isatty(target.fd()));
    Client client;
    // A notice during an export gets a line of its own; the progress line comes back later.
    client.set_notice_handler([&progress](const Notice& n) {
        progress.finish();
        print_notice(n);
    });
    client.connect(std::move(settings));
    bool first_set = true;
    for (const auto& st : statements) {
        try {
            if (auto single = streamable_statement(st, from_stdin, o.format)) {
                if (o.format == OutputFormat::json) cli::stream_json(client, *single, out, progress);
                else if (cli::stream_csv(client, *single, out, first_set, progress)) first_set = false;
                continue;
            }
            // -c text may hold several statements (simple query), as with psql -c.
            for (const Result& r : client.query_all(st.sql)) {
                if (o.quiet && o.format == OutputFormat::table && r.columns() == 0) continue;
                cli::print_result(out, r, o.format, first_set);
                if (r.columns() > 0) first_set = false;
            }
        } catch (const ServerError& e) {
            report_statement_error(e, st, out, progress);
            client.close();
            return e.kind() == ErrorKind::server ? exit_sql : exit_connection;
        }
    }
    progress.finish();
    out.flush();
    client.close();
    return exit_ok;
}

int run_ping(const Options& o) {
    Settings settings = resolve_or_throw(o);
    Client client;
    client.connect(std::move(settings));
    auto t0 = std::chrono::steady_clock::now();
    client.query("SELECT 1");
    double first_query = ms_since(t0);
    ConnectionInfo info = client.info();
    client.close();
    const auto& t = info.timings;
    if (o.json) {
        using cli::json_quote;
        std::cout << "{\"backend\":" << json_quote(info.backend)
                  << ",\"backend_version\":" << json_quote(info.backend_version)
                  << ",\"pgtls_version\":" << json_quote(PGTLS_VERSION)
                  << ",\"negotiation\":" << json_quote(info.negotiation)
                  << ",\"encryption\":" << json_quote(info.encryption)
                  << ",\"ssl\":" << (info.ssl ? "true" : "false")
                  << ",\"tls_version\":" << json_quote(info.tls_version)
                  << ",\"cipher\":" << json_quote(info.cipher)
                  << ",\"alpn\":" << json_quote(info.alpn)
                  << ",\"server_cert_subject\":" << json_quote(info.server_cert_subject)
                  << ",\"server_cert_issuer\":" << json_quote(info.server_cert_issuer)
                  << ",\"client_cert_sent\":" << (info.client_cert_sent ? "true" : "false")
                  << ",\"auth_method\":" << json_quote(info.auth_method)
                  << ",\"channel_binding\":" << (info.channel_binding ? "true" : "false")
                  << ",\"server_version\":" << json_quote(info.server_version)
                  << ",\"protocol_version\":" << json_quote(info.protocol_version)
                  << ",\"host\":" << json_quote(info.host)
                  << ",\"address\":" << json_quote(info.address)
                  << ",\"port\":" << info.port
                  << ",\"backend_pid\":" << info.backend_pid
                  << ",\"timings_ms\":{\"tcp_connect\":" << fixed(t.tcp_connect_ms)
                  << ",\"tls_handshake\":" << fixed(t.tls_handshake_ms)
                  << ",\"authentication\":" << fixed(t.authentication_ms)
                  << ",\"first_query\":" << fixed(first_query)
                  << ",\"connect_total\":" << fixed(t.total_ms)
                  << ",\"total\":" << fixed(t.total_ms + first_query) << "}}\n";
        return exit_ok;
    }
    auto line = [](const char* k, const std::string& v) {
        std::cout << std::left << std::setw(22) << (std::string(k) + ":") << (v.empty() ? "-" : v) << '\n';
    };
    line("server", info.host + (info.address.empty() || info.address == info.host ? "" : " (" + info.address + ")") +
                       " port " + std::to_string(info.port));
    line("server_version", info.server_version);
    line("protocol_version", info.protocol_version);
    line("encryption", info.encryption);
    line("ssl", info.ssl ? "on" : "off");
    line("backend", info.backend.empty() ? "" : info.backend + " (" + info.backend_version + ")");
    line("pgtls_version", PGTLS_VERSION);
    line("negotiation", info.negotiation);
    line("tls_version", info.tls_version);
    line("cipher", info.cipher);
    line("alpn", info.alpn);
    line("server_cert_subject", info.server_cert_subject);
    line("server_cert_issuer", info.server_cert_issuer);
    line("client_cert_sent", info.client_cert_sent ? "yes" : "no");
    line("auth_method", info.auth_method);
    line("channel_binding", info.channel_binding ? "yes" : "no");
    line("timings_ms", "tcp_connect=" + fixed(t.tcp_connect_ms) + " tls_handshake=" + fixed(t.tls_handshake_ms) +
                           " authentication=" + fixed(t.authentication_ms) + " first_query=" + fixed(first_query) +
                           " total=" + fixed(t.total_ms + first_query));
    return exit_ok;
}

int run_conninfo(const Options& o) {
    Settings settings = resolve_or_throw(o);
    std::cout << describe_settings(settings, o.json);
    if (o.json) std::cout << '\n';
    return exit_ok;
}

int run_backends(const Options& o) {
    const std::vector<TlsBackendInfo> all = tls_backends();
    if (o.json) std::cout << '[';
    bool first = true;
    for (const TlsBackendInfo& b : all) {
        if (o.json) {
            std::cout << (first ? "" : ",") << "{\"name\":" << cli::json_quote(b.name)
                      << ",\"library_version\":" << cli::json_quote(b.library_version)
                      << ",\"default\":" << (b.is_default ? "true" : "false") << ",\"capabilities\":[";
            for (std::size_t i = 0; i < b.capabilities.size(); ++i)
                std::cout << (i ? "," : "") << cli::json_quote(b.capabilities[i]);
            std::cout << "]}";
        } else {
            std::cout << std::left << std::setw(8) << b.name << ' ' << b.library_version
                      << (b.is_default ? "  (default)" : "") << "\n         ";
            for (std::size_t i = 0; i < b.capabilities.size(); ++i) std::cout << (i ? " " : "") << b.capabilities[i];
            std::cout << '\n';
        }
        first = false;
    }
    if (o.json) std::cout << "]\n";
    else if (all.empty()) std::cout << "no TLS backend compiled in (plaintext connections only)\n";
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    try {
        o = parse_arguments(argc, argv);
    } catch (const UsageError& e) {
        std::cerr << "pgtls: " << e.message << "\nTry 'pgtls --help'.\n";
        return exit_usage;
    }
    if (o.help) {
        std::cout << (o.command == "ping" ? ping_help : o.command == "conninfo" ? conninfo_help
                      : o.command == "backends" ? backends_help : main_help);
        return exit_ok;
    }
    if (o.version) {
        std::cout << "pgtls " << PGTLS_VERSION << '\n';
        return exit_ok;
    }
    try {
        if (o.command == "ping") return run_ping(o);
        if (o.command == "conninfo") return run_conninfo(o);
        if (o.command == "backends") return run_backends(o);
        return run_sql(o);
    } catch (const UsageError& e) {
        std::cerr << "pgtls: " << e.message << "\nTry 'pgtls --help'.\n";
        return exit_usage;
    } catch (const OutputFileError& e) {
        std::cerr << "pgtls: " << e.message << '\n';
        return exit_usage;
    } catch (const std::exception& e) {
        return report(e);
    }
}
