#include "tls/root_file_anchors.hpp"

#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <vector>

#include "tls/der_reader.hpp"

namespace pgtls::tls {
namespace {

constexpr std::string_view begin_marker = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view end_marker = "-----END CERTIFICATE-----";

struct Names {
    std::vector<std::uint8_t> issuer;
    std::vector<std::uint8_t> subject;
    std::optional<std::time_t> not_before, not_after;  // nullopt: not readable here
};

// UTCTime "YYMMDDHHMMSSZ" (years 1950-2049) or GeneralizedTime "YYYYMMDDHHMMSSZ", the forms
// RFC 5280 allows in a certificate.
std::optional<std::time_t> time_of(const DerElement& e) {
    const std::string_view text(reinterpret_cast<const char*>(e.value.data()), e.value.size());
    const bool utc = e.tag == 0x17 && text.size() == 13;
    if (!utc && !(e.tag == 0x18 && text.size() == 15)) return std::nullopt;
    if (text.back() != 'Z') return std::nullopt;
    int digits[14] = {};
    const std::size_t n = text.size() - 1;
    for (std::size_t i = 0; i < n; ++i) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
        digits[i] = text[i] - '0';
    }
    auto two = [&](std::size_t at) { return digits[at] * 10 + digits[at + 1]; };
    std::tm tm{};
    std::size_t at = 0;
    if (utc) {
        const int yy = two(0);
        tm.tm_year = (yy < 50 ? 2000 + yy : 1900 + yy) - 1900;
        at = 2;
    } else {
        tm.tm_year = two(0) * 100 + two(2) - 1900;
        at = 4;
    }
    tm.tm_mon = two(at) - 1;
    tm.tm_mday = two(at + 2);
    tm.tm_hour = two(at + 4);
    tm.tm_min = two(at + 6);
    tm.tm_sec = two(at + 8);
    return ::timegm(&tm);
}

// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber,
// signature, issuer, validity, subject, ... }, ... }
std::optional<Names> names_of(std::span<const std::uint8_t> der) {
    DerReader outer(der);
    DerElement cert, tbs, issuer, validity, subject, ignored;
    if (!outer.expect(der::sequence, cert)) return std::nullopt;
    DerReader in_cert(cert.value);
    if (!in_cert.expect(der::sequence, tbs)) return std::nullopt;
    DerReader r(tbs.value);
    r.skip_if(der::context(0, true));
    if (!r.expect(der::integer, ignored) || !r.expect(der::sequence, ignored) || !r.expect(der::sequence, issuer) ||
        !r.expect(der::sequence, validity) || !r.expect(der::sequence, subject))
        return std::nullopt;
    Names names{{issuer.whole.begin(), issuer.whole.end()}, {subject.whole.begin(), subject.whole.end()}, {}, {}};
    DerReader v(validity.value);
    DerElement from, to;
    if (v.next(from) && v.next(to)) {
        names.not_before = time_of(from);
        names.not_after = time_of(to);
    }
    return names;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
    std::vector<std::uint8_t> out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else if (c == '=' || c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
        else return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> bits));
        }
    }
    return out;
}

struct Block {
    std::size_t begin = 0, end = 0;  // byte range in the input, the line break after END included
    Names names;
};

bool out_of_date(const Names& n, std::optional<std::time_t> now) {
    return now && ((n.not_before && *now < *n.not_before) || (n.not_after && *now > *n.not_after));
}

// Marks which certificates lead to a self-issued one of the same set; with `now`, only through
// certificates valid at that time.
std::vector<bool> anchored(const std::vector<Names>& certs, std::optional<std::time_t> now) {
    std::vector<bool> ok(certs.size(), false);
    for (std::size_t i = 0; i < certs.size(); ++i) ok[i] = certs[i].issuer == certs[i].subject && !out_of_date(certs[i], now);
    for (bool changed = true; changed;) {
        changed = false;
        for (std::size_t i = 0; i < certs.size(); ++i) {
            if (ok[i] || out_of_date(certs[i], now)) continue;
            for (std::size_t j = 0; j < certs.size(); ++j) {
                if (ok[j] && certs[j].subject == certs[i].issuer) {
                    ok[i] = changed = true;
                    break;
                }
            }
        }
    }
    return ok;
}

}  // namespace

RootFileAnchors keep_anchored_certificates(std::string_view data, std::optional<std::time_t> now) {
    RootFileAnchors out;
    out.data = std::string(data);
    if (data.find("-----BEGIN") == std::string_view::npos) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
        const auto names = names_of({p, data.size()});
        if (!names) return out;
        out.out_of_date = out_of_date(*names, now) ? 1 : 0;
        if (anchored({*names}, now)[0]) {
            out.kept = 1;
        } else {
            out.dropped = 1;
            out.data.clear();
        }
        return out;
    }

    std::vector<Block> blocks;
    for (std::size_t pos = data.find(begin_marker); pos != std::string_view::npos;
         pos = data.find(begin_marker, pos)) {
        const std::size_t body = pos + begin_marker.size();
        const std::size_t stop = data.find(end_marker, body);
        if (stop == std::string_view::npos) break;
        std::size_t end = stop + end_marker.size();
        if (end < data.size() && data[end] == '\r') ++end;
        if (end < data.size() && data[end] == '\n') ++end;
        const auto der = base64_decode(data.substr(body, stop - body));
        const auto names = der ? names_of(*der) : std::nullopt;
        if (!names) return out;  // unreadable here: leave every verdict to the library
        blocks.push_back({pos, end, *names});
        pos = end;
    }

    std::vector<Names> certs;
    for (const Block& b : blocks) certs.push_back(b.names);
    const std::vector<bool> ok = anchored(certs, now);
    for (const Names& n : certs) out.out_of_date += out_of_date(n, now) ? 1 : 0;
    std::string kept_text;
    std::size_t from = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        if (ok[i]) {
            ++out.kept;
            continue;
        }
        ++out.dropped;
        kept_text.append(data.substr(from, blocks[i].begin - from));
        // A block can start mid-line: end that line here, so that the cut cannot splice the
        // text before the block and the text after it into a marker no one judged.
        if (!kept_text.empty() && kept_text.back() != '\n') kept_text += '\n';
        from = blocks[i].end;
    }
    if (out.dropped == 0) return out;
    kept_text.append(data.substr(from));
    out.data = std::move(kept_text);
    return out;
}

}  // namespace pgtls::tls
