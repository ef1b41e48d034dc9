#include "json_text.hpp"

#include <cstdio>
#include <vector>

#include "utf8.hpp"

namespace pgtls::cli {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Length of the JSON number at t[i], or 0.
std::size_t number_length(std::string_view t, std::size_t i) {
    const std::size_t start = i;
    if (i < t.size() && t[i] == '-') ++i;
    if (i >= t.size() || !is_digit(t[i])) return 0;
    if (t[i] == '0') {
        ++i;
    } else {
        while (i < t.size() && is_digit(t[i])) ++i;
    }
    if (i < t.size() && t[i] == '.') {
        if (++i >= t.size() || !is_digit(t[i])) return 0;
        while (i < t.size() && is_digit(t[i])) ++i;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        if (i >= t.size() || !is_digit(t[i])) return 0;
        while (i < t.size() && is_digit(t[i])) ++i;
    }
    return i - start;
}

// Copies the JSON string token at t[i] (t[i] == '"') to `out`, advancing i past it; invalid
// UTF-8 bytes become U+FFFD. False when it is not a valid string token.
bool copy_string(std::string_view t, std::size_t& i, std::string& out) {
    out += '"';
    ++i;
    while (i < t.size()) {
        const unsigned char c = static_cast<unsigned char>(t[i]);
        if (c == '"') {
            out += '"';
            ++i;
            return true;
        }
        if (c < 0x20) return false;
        if (c == '\\') {
            if (i + 1 >= t.size()) return false;
            const char e = t[i + 1];
            if (e == 'u') {
                if (i + 5 >= t.size()) return false;
                for (std::size_t k = 2; k < 6; ++k)
                    if (!is_hex(t[i + k])) return false;
                out.append(t.substr(i, 6));
                i += 6;
                continue;
            }
            if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) return false;
            out.append(t.substr(i, 2));
            i += 2;
            continue;
        }
        const std::size_t n = utf8_sequence_length(t, i);
        if (n == 0) {
            out += kReplacement;
            ++i;
        } else {
            out.append(t.substr(i, n));
            i += n;
        }
    }
    return false;
}

}  // namespace

std::string json_quote(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
            ++i;
        } else if (c < 0x20) {
            switch (c) {
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                default: {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                }
            }
            ++i;
        } else if (const std::size_t n = utf8_sequence_length(s, i); n > 0) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += kReplacement;
            ++i;
        }
    }
    out += '"';
    return out;
}

bool is_json_number(std::string_view s) noexcept { return !s.empty() && number_length(s, 0) == s.size(); }

std::optional<std::string> compact_json(std::string_view t) {
    enum class Want { value, value_or_close, key, key_or_close, colon, comma_or_close, end };
    std::string out;
    out.reserve(t.size());
    std::vector<char> open;  // '{' or '[' per enclosing container
    Want want = Want::value;
    std::size_t i = 0;
    auto after_value = [&] { want = open.empty() ? Want::end : Want::comma_or_close; };
    auto close = [&](char c) {
        out += c;
        ++i;
        open.pop_back();
        after_value();
    };
    for (;;) {
        while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
        if (i == t.size()) return want == Want::end ? std::optional<std::string>(std::move(out)) : std::nullopt;
        const char c = t[i];
        switch (want) {
            case Want::end:
                return std::nullopt;
            case Want::colon:
                if (c != ':') return std::nullopt;
                out += ':';
                ++i;
                want = Want::value;
                continue;
            case Want::comma_or_close:
                if (c == ',') {
                    out += ',';
                    ++i;
                    want = open.back() == '{' ? Want::key : Want::value;
                } else if ((c == '}' && open.back() == '{') || (c == ']' && open.back() == '[')) {
                    close(c);
                } else {
                    return std::nullopt;
                }
                continue;
            case Want::key_or_close:
                if (c == '}') {
                    close(c);
                    continue;
                }
                [[fallthrough]];
            case Want::key:
                if (c != '"' || !copy_string(t, i, out)) return std::nullopt;
                want = Want::colon;
                continue;
            case Want::value_or_close:
                if (c == ']') {
                    close(c);
                    continue;
                }
                [[fallthrough]];
            case Want::value:
                if (c == '{' || c == '[') {
                    open.push_back(c);
                    out += c;
                    ++i;
                    want = c == '{' ? Want::key_or_close : Want::value_or_close;
                    continue;
                }
                if (c == '"') {
                    if (!copy_string(t, i, out)) return std::nullopt;
                } else if (t.substr(i, 4) == "true" || t.substr(i, 4) == "null") {
                    out.append(t.substr(i, 4));
                    i += 4;
                } else if (t.substr(i, 5) == "false") {
                    out.append(t.substr(i, 5));
                    i += 5;
                } else if (const std::size_t n = number_length(t, i); n > 0) {
                    out.append(t.substr(i, n));
                    i += n;
                } else {
                    return std::nullopt;
                }
                after_value();
                continue;
        }
    }
}

}  // namespace pgtls::cli
