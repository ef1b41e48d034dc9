/// \file
/// Network address types. Included by types.hpp.
///
/// @code{.unparsed}
/// inet     <-> pgtls::Inet     (an IPv4 or IPv6 host address with an optional netmask length)
/// cidr     <-> pgtls::Cidr     (a network: no bits set right of the netmask)
/// macaddr  <-> pgtls::MacAddr  (6 bytes)
/// macaddr8 <-> pgtls::MacAddr8 (8 bytes, EUI-64)
/// @endcode
///
/// Text decoding reads the forms the server prints (inet/cidr in full dotted or RFC 5952-like
/// colon notation with "/bits", MAC addresses as colon- or hyphen-separated hex pairs); the
/// abbreviated cidr input forms ("10/8") are not parsed. Encoding writes exactly what
/// PostgreSQL's output functions print, and binary is inet_send/macaddr_send's layout.
#pragma once

#include "pgtls/version.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// An inet value: `family` 4 or 6; `address` holds 4 (IPv4, the rest zero) or 16 bytes;
/// `prefix` is the netmask length (32 or 128 for a plain host address).
struct Inet {
    std::uint8_t family = 4;                  ///< 4 or 6.
    std::array<std::uint8_t, 16> address{};  ///< 4 or 16 significant bytes, network order.
    std::uint8_t prefix = 32;                 ///< Netmask length: 0..32 (IPv4) or 0..128 (IPv6).
    /// Parses "192.168.0.1", "10.0.0.0/8", "::1", "fe80::1/64"; Error(usage) otherwise.
    static Inet parse(std::string_view text);
    /// The text form network_out prints for inet ("/bits" only when not a full host mask).
    std::string str() const;
    bool operator==(const Inet&) const = default;  ///< Equal when all fields are.
};

/// A cidr value: as Inet, but the bits right of `prefix` must be zero (checked when decoding
/// and encoding). Its text form always carries "/bits".
struct Cidr {
    std::uint8_t family = 4;                  ///< 4 or 6.
    std::array<std::uint8_t, 16> address{};  ///< 4 or 16 significant bytes, network order.
    std::uint8_t prefix = 32;                 ///< Netmask length; the bits after it are zero.
    /// Parses "10.0.0.0/8" or "2001:db8::/32"; Error(usage) if host bits are set.
    static Cidr parse(std::string_view text);
    /// The text form network_out prints for cidr.
    std::string str() const;
    bool operator==(const Cidr&) const = default;  ///< Equal when all fields are.
};

/// A macaddr value (6 bytes), printed "08:00:2b:01:02:03".
struct MacAddr {
    std::array<std::uint8_t, 6> bytes{};  ///< The address, first printed byte first.
    bool operator==(const MacAddr&) const = default;  ///< Equal when the bytes are.
};

/// A macaddr8 value (8 bytes), printed "08:00:2b:01:02:03:04:05".
struct MacAddr8 {
    std::array<std::uint8_t, 8> bytes{};  ///< The address, first printed byte first.
    bool operator==(const MacAddr8&) const = default;  ///< Equal when the bytes are.
};

namespace detail {

/// Decodes inet or cidr (`cidr` requires zero host bits) from either column type.
Inet decode_inet(std::string_view b, std::uint32_t type_oid, bool binary, bool cidr);
std::string format_inet(const Inet& v, bool cidr);
std::string inet_binary(const Inet& v, bool cidr);
/// Error(usage) unless `v` is a valid address of its family (and, for cidr, has no host bits).
void check_inet(const Inet& v, bool cidr);
/// 6 or 8 bytes of a macaddr/macaddr8 column; a macaddr8 column read into 6 bytes must be an
/// EUI-48 expanded with ff:fe (as macaddr8_to_macaddr requires), a macaddr column read into 8
/// bytes is expanded so.
void decode_mac(std::string_view b, std::uint32_t type_oid, bool binary, std::uint8_t* out, std::size_t n);
std::string format_mac(const std::uint8_t* bytes, std::size_t n);

inline Inet to_inet(const Cidr& c) { return Inet{c.family, c.address, c.prefix}; }
inline Cidr to_cidr(const Inet& i) { return Cidr{i.family, i.address, i.prefix}; }

}  // namespace detail

/// inet: reads inet and cidr columns; written binary, typed inet.
template <>
struct Codec<Inet> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::inet;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Inet decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_inet(b, oid, binary, false); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Inet& v) { return detail::format_inet(v, false); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Inet& v) { return detail::inet_binary(v, false); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const Inet& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// cidr: reads cidr columns and inet columns whose host bits are zero; written binary, typed cidr.
template <>
struct Codec<Cidr> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::cidr;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Cidr decode(std::string_view b, std::uint32_t oid, bool binary) {
        return detail::to_cidr(detail::decode_inet(b, oid, binary, true));
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Cidr& v) { return detail::format_inet(detail::to_inet(v), true); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Cidr& v) { return detail::inet_binary(detail::to_inet(v), true); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const Cidr& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// macaddr: reads macaddr columns (and macaddr8 ones holding an ff:fe-expanded EUI-48).
template <>
struct Codec<MacAddr> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::macaddr;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static MacAddr decode(std::string_view b, std::uint32_t oid, bool binary) {
        MacAddr m;
        detail::decode_mac(b, oid, binary, m.bytes.data(), 6);
        return m;
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const MacAddr& v) { return detail::format_mac(v.bytes.data(), 6); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const MacAddr& v) { return std::string(reinterpret_cast<const char*>(v.bytes.data()), 6); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const MacAddr& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// macaddr8: reads macaddr8 columns (and macaddr ones, expanded with ff:fe in the middle).
template <>
struct Codec<MacAddr8> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::macaddr8;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static MacAddr8 decode(std::string_view b, std::uint32_t oid, bool binary) {
        MacAddr8 m;
        detail::decode_mac(b, oid, binary, m.bytes.data(), 8);
        return m;
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const MacAddr8& v) { return detail::format_mac(v.bytes.data(), 8); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const MacAddr8& v) { return std::string(reinterpret_cast<const char*>(v.bytes.data()), 8); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const MacAddr8& v) { return Param{encode_binary(v), type_oid, 1}; }
};

}  // namespace pgtls
PGTLS_API_END
