#include "sql_splitter.hpp"

#include <cctype>

namespace pgtls::cli {
namespace {

bool is_ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

// Length of a dollar-quote tag ("$$" or "$name$") starting at s[i], or 0 if none starts there.
std::size_t dollar_tag_length(std::string_view s, std::size_t i) {
    if (s[i] != '$') return 0;
    std::size_t j = i + 1;
    if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) return 0;  // $1 parameter
    while (j < s.size() && is_ident_char(s[j]) && s[j] != '$') ++j;
    return (j < s.size() && s[j] == '$') ? j - i + 1 : 0;
}

}  // namespace

std::vector<Statement> split_statements(std::string_view s) {
    std::vector<Statement> out;
    std::string current;
    bool has_code = false;  // something other than white space and comments seen
    std::size_t line = 1, start_line = 1;

    auto take = [&](std::size_t from, std::size_t to) {
        for (std::size_t k = from; k < to; ++k)
            if (s[k] == '\n') ++line;
        current.append(s.substr(from, to - from));
    };
    auto finish = [&] {
        if (has_code) out.push_back({current, start_line});
        current.clear();
        has_code = false;
    };

    std::size_t i = 0;
    while (i < s.size()) {
        char c = s[i];
        if (!has_code && !std::isspace(static_cast<unsigned char>(c)) && !(c == '-' && i + 1 < s.size() && s[i + 1] == '-') &&
            !(c == '/' && i + 1 < s.size() && s[i + 1] == '*'))
            start_line = line;
        if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
            std::size_t end = s.find('\n', i);
            end = end == std::string_view::npos ? s.size() : end;
            take(i, end);
            i = end;
        } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
            std::size_t j = i + 2;
            int depth = 1;
            while (j < s.size() && depth > 0) {
                if (s[j] == '/' && j + 1 < s.size() && s[j + 1] == '*') { ++depth; j += 2; }
                else if (s[j] == '*' && j + 1 < s.size() && s[j + 1] == '/') { --depth; j += 2; }
                else ++j;
            }
            take(i, j);
            i = j;
        } else if (c == '\'' || c == '"') {
            // E'...' strings honour backslash escapes; standard strings and identifiers only
            // the doubled quote.
            bool escapes = c == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
                           (i < 2 || !is_ident_char(s[i - 2]));
            std::size_t j = i + 1;
            while (j < s.size()) {
                if (escapes && s[j] == '\\') { j += 2; continue; }
                if (s[j] == c) {
                    if (j + 1 < s.size() && s[j + 1] == c) { j += 2; continue; }
                    ++j;
                    break;
                }
                ++j;
            }
            if (j > s.size()) j = s.size();
            has_code = true;
            take(i, j);
            i = j;
        } else if (std::size_t tag = (c == '$' && (i == 0 || !is_ident_char(s[i - 1]))) ? dollar_tag_length(s, i) : 0) {
            std::string_view delimiter = s.substr(i, tag);
            std::size_t close = s.find(delimiter, i + tag);
            std::size_t end = close == std::string_view::npos ? s.size() : close + tag;
            has_code = true;
            take(i, end);
            i = end;
        } else if (c == ';') {
            ++i;
            finish();
        } else {
            if (!std::isspace(static_cast<unsigned char>(c))) has_code = true;
            take(i, i + 1);
            ++i;
        }
    }
    finish();
    return out;
}

std::string first_word(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        if (std::isspace(static_cast<unsigned char>(s[i]))) {
            ++i;
        } else if (s.substr(i, 2) == "--") {
            i = s.find('\n', i);
            if (i == std::string_view::npos) return {};
        } else if (s.substr(i, 2) == "/*") {
            int depth = 0;
            do {
                if (s.substr(i, 2) == "/*") { ++depth; i += 2; }
                else if (s.substr(i, 2) == "*/") { --depth; i += 2; }
                else ++i;
            } while (depth > 0 && i < s.size());
            if (depth > 0) return {};
        } else {
            break;
        }
    }
    if (i == s.size()) return {};
    if (!std::isalpha(static_cast<unsigned char>(s[i]))) return std::string(1, s[i]);
    std::string word;
    for (; i < s.size() && is_ident_char(s[i]); ++i)
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
    return word;
}

}  // namespace pgtls::cli
