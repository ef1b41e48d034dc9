// Compares pgtls's connection-string parser with a libpq's PQconninfoParse on one string.
// Shared by the corpus test (libpq 15 linked, libpq 18 loaded with dlopen) and the fuzz target.
#pragma once

#include <libpq-fe.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pgtls/config.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {

// The two libpq entry points the comparison needs, so that a dlopen'ed libpq can be used.
struct LibpqApi {
    PQconninfoOption* (*conninfo_parse)(const char*, char**) = nullptr;
    void (*conninfo_free)(PQconninfoOption*) = nullptr;
    PQconninfoOption* (*conndefaults)() = nullptr;
    void (*freemem)(void*) = nullptr;
    std::string name;  // "libpq 15", "libpq 18"
    int major = 0;
};

struct ParseOutcome {
    bool ok = false;
    std::map<std::string, std::string> values;
    std::string error;  // without libpq's trailing newline
};

inline ParseOutcome parse_with_pgtls(const std::string& conninfo) {
    ParseOutcome out;
    try {
        for (auto& [k, v] : pgtls::parse_conninfo(conninfo)) out.values[k] = v;
        out.ok = true;
    } catch (const pgtls::Error& e) {
        out.error = e.what();
    }
    return out;
}

inline ParseOutcome parse_with_libpq(const LibpqApi& api, const std::string& conninfo) {
    ParseOutcome out;
    char* err = nullptr;
    PQconninfoOption* opts = api.conninfo_parse(conninfo.c_str(), &err);
    if (opts == nullptr) {
        out.error = err ? err : "(no message)";
        while (!out.error.empty() && out.error.back() == '\n') out.error.pop_back();
        if (err) api.freemem(err);
        return out;
    }
    out.ok = true;
    for (PQconninfoOption* o = opts; o->keyword; ++o)
        if (o->val) out.values[o->keyword] = o->val;
    api.conninfo_free(opts);
    return out;
}

inline std::set<std::string> libpq_keywords(const LibpqApi& api) {
    std::set<std::string> names;
    PQconninfoOption* opts = api.conndefaults();
    for (PQconninfoOption* o = opts; o && o->keyword; ++o) names.insert(o->keyword);
    if (opts) api.conninfo_free(opts);
    return names;
}

// The keyword a libpq "unknown keyword" error names, if that is what the message is.
inline std::optional<std::string> unknown_keyword_in(const std::string& message) {
    for (const char* prefix : {"invalid connection option \"", "invalid URI query parameter: \""}) {
        const std::string p = prefix;
        if (message.compare(0, p.size(), p) == 0) {
            std::size_t end = message.find('"', p.size());
            if (end != std::string::npos && end + 1 == message.size()) return message.substr(p.size(), end - p.size());
        }
    }
    return std::nullopt;
}

enum class Verdict { agree, expected_difference, mismatch };

struct Comparison {
    Verdict verdict = Verdict::agree;
    std::string explanation;
};

// `pgtls_only` are keywords pgtls accepts that this libpq does not know. The allowed
// differences: libpq rejects the string because of one of those keywords; and a libpq older
// than 17 (`libpq_major`) does not have the URI space rule (spaces around a URI component are
// trimmed, spaces inside one are an error), so URIs containing ' ' may differ. Otherwise
// validity, every value, and the error message (pgtls's starts with libpq's) must agree.
inline Comparison compare(const std::string& input, const ParseOutcome& ours, const ParseOutcome& theirs,
                          const std::set<std::string>& pgtls_only, int libpq_major) {
    Comparison c;
    const bool uri_with_space = (input.rfind("postgresql://", 0) == 0 || input.rfind("postgres://", 0) == 0) &&
                                input.find(' ') != std::string::npos;
    if (libpq_major < 17 && uri_with_space && (ours.ok != theirs.ok || ours.values != theirs.values ||
                                               ours.error.compare(0, theirs.error.size(), theirs.error) != 0)) {
        c.verdict = Verdict::expected_difference;
        c.explanation = "libpq before 17 keeps spaces in URI components";
        return c;
    }
    if (!theirs.ok) {
        if (auto k = unknown_keyword_in(theirs.error); k && pgtls_only.count(*k)) {
            c.verdict = Verdict::expected_difference;
            c.explanation = "libpq does not know \"" + *k + "\"";
            return c;
        }
    }
    if (ours.ok != theirs.ok) {
        c.verdict = Verdict::mismatch;
        c.explanation = ours.ok ? "pgtls accepts, libpq rejects: " + theirs.error
                                : "pgtls rejects (" + ours.error + "), libpq accepts";
        return c;
    }
    if (!ours.ok) {
        if (ours.error.compare(0, theirs.error.size(), theirs.error) != 0) {
            c.verdict = Verdict::mismatch;
            c.explanation = "different errors: pgtls \"" + ours.error + "\" vs libpq \"" + theirs.error + "\"";
        }
        return c;
    }
    if (ours.values != theirs.values) {
        c.verdict = Verdict::mismatch;
        std::string diff;
        for (const auto& [k, v] : ours.values) {
            auto it = theirs.values.find(k);
            if (it == theirs.values.end()) diff += " " + k + ": pgtls \"" + v + "\", libpq unset;";
            else if (it->second != v) diff += " " + k + ": pgtls \"" + v + "\", libpq \"" + it->second + "\";";
        }
        for (const auto& [k, v] : theirs.values)
            if (!ours.values.count(k)) diff += " " + k + ": pgtls unset, libpq \"" + v + "\";";
        c.explanation = "values differ:" + diff;
    }
    return c;
}

}  // namespace pgtls::test
