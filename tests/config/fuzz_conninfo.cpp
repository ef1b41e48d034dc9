// libFuzzer target: random connection strings must be parsed identically by pgtls and by the
// linked libpq (PQconninfoParse), under the rules of libpq_compare.hpp, and resolve() must
// answer every parsed string with Settings or pgtls::Error. Aborts on the first
// disagreement so that the fuzzer saves the input. Built with -Dfuzzing=true and clang:
//   ./fuzz_conninfo -dict=tests/config/conninfo.dict SEEDS/
// where SEEDS holds one file per line of conninfo_corpus.txt (a 120 s run found nothing).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/keywords.hpp"
#include "libpq_compare.hpp"

namespace {

const pgtls::test::LibpqApi& libpq() {
    static const pgtls::test::LibpqApi api = [] {
        pgtls::test::LibpqApi a;
        a.conninfo_parse = &PQconninfoParse;
        a.conninfo_free = &PQconninfoFree;
        a.conndefaults = &PQconndefaults;
        a.freemem = &PQfreemem;
        a.major = PQlibVersion() / 10000;
        a.name = "libpq " + std::to_string(a.major);
        return a;
    }();
    return api;
}

const std::set<std::string>& pgtls_only() {
    static const std::set<std::string> only = [] {
        std::set<std::string> known = pgtls::test::libpq_keywords(libpq()), result;
        for (const auto& k : pgtls::config::keywords())
            if (!known.count(std::string(k.name))) result.insert(std::string(k.name));
        return result;
    }();
    return only;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // libpq reads a C string: compare on the part before the first NUL.
    std::string input(reinterpret_cast<const char*>(data), size);
    input = input.substr(0, input.find('\0'));
    auto ours = pgtls::test::parse_with_pgtls(input);
    auto theirs = pgtls::test::parse_with_libpq(libpq(), input);
    auto c = pgtls::test::compare(input, ours, theirs, pgtls_only(), libpq().major);
    if (c.verdict == pgtls::test::Verdict::mismatch) {
        std::fprintf(stderr, "pgtls and %s disagree on [%s]: %s\n", libpq().name.c_str(), input.c_str(),
                     c.explanation.c_str());
        std::abort();
    }
    // resolve() must turn any string into Settings or a pgtls::Error, nothing else.
    if (ours.ok) {
        pgtls::Config config;
        config.conninfo = input;
        pgtls::Environment no_env = [](const std::string& name) -> std::optional<std::string> {
            if (name == "HOME") return std::string("/nonexistent-pgtls-home");
            return std::nullopt;
        };
        try {
            (void)pgtls::resolve(config, no_env);
        } catch (const pgtls::Error&) {
        }
    }
    return 0;
}
