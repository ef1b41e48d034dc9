// Helpers for codec tests: hex test vectors, decode in either format, round trips.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "pgtls/types.hpp"

namespace pgtls::test {

inline std::string unhex(std::string_view h) {
    auto v = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    std::string out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(v(h[i]) * 16 + v(h[i + 1])));
    return out;
}

inline std::string tohex(std::string_view b) {
    static constexpr char d[] = "0123456789abcdef";
    std::string out;
    for (const char c : b) {
        out.push_back(d[static_cast<unsigned char>(c) >> 4]);
        out.push_back(d[static_cast<unsigned char>(c) & 15]);
    }
    return out;
}

template <typename T>
T text_decode(std::string_view s, std::uint32_t type_oid) {
    return Codec<T>::decode(s, type_oid, false);
}

template <typename T>
T binary_decode_hex(std::string_view h, std::uint32_t type_oid) {
    const std::string b = unhex(h);
    return Codec<T>::decode(b, type_oid, true);
}

// A value as PostgreSQL 15 prints it (text) and sends it (binary, hex): both decode to
// `value`, and encoding `value` gives exactly those bytes.
template <typename T>
void expect_server_vector(const T& value, std::uint32_t type_oid, std::string_view text, std::string_view binary_hex) {
    SCOPED_TRACE(std::string(text));
    EXPECT_EQ(text_decode<T>(text, type_oid), value);
    EXPECT_EQ(binary_decode_hex<T>(binary_hex, type_oid), value);
    EXPECT_EQ(Codec<T>::encode_text(value), text);
    EXPECT_EQ(tohex(Codec<T>::encode_binary(value)), binary_hex);
}

// encode -> decode in both formats gives the value back.
template <typename T>
void expect_round_trip(const T& value, std::uint32_t type_oid = Codec<T>::type_oid) {
    const std::string t = Codec<T>::encode_text(value);
    const std::string b = Codec<T>::encode_binary(value);
    EXPECT_EQ(Codec<T>::decode(t, type_oid, false), value) << "text " << t;
    EXPECT_EQ(Codec<T>::decode(b, type_oid, true), value) << "binary " << tohex(b);
}

// Decoding throws pgtls::Error of kind usage.
#define EXPECT_CONVERSION_ERROR(expr)                                          \
    do {                                                                       \
        try {                                                                  \
            (void)(expr);                                                      \
            ADD_FAILURE() << "no error from " #expr;                           \
        } catch (const ::pgtls::Error& e) {                                    \
            EXPECT_EQ(e.kind(), ::pgtls::ErrorKind::usage) << e.what();        \
            EXPECT_NE(std::string(e.what()), "");                              \
        }                                                                      \
    } while (0)

}  // namespace pgtls::test
