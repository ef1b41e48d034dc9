// Unicode data for SASLprep, generated into auth/unicode_tables.cpp by
// scripts/gen-unicode-tables.py. All tables are sorted by code point for binary search.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgtls::auth::unicode {

struct CodeRange { char32_t first, last; };                         // inclusive
struct CombiningClassRange { char32_t first, last; std::uint8_t ccc; };
struct Decomposition { char32_t code; std::uint16_t offset; std::uint8_t length; };  // into decomposition_pool
struct Composition { char32_t first, second, composite; };

extern const char* const ucd_version;

// RFC 3454 tables (Unicode 3.2), as libpq's src/common/saslprep.c has them.
extern const CodeRange non_ascii_space[];      // C.1.2: mapped to U+0020
extern const std::size_t non_ascii_space_size;
extern const CodeRange mapped_to_nothing[];    // B.1
extern const std::size_t mapped_to_nothing_size;
extern const CodeRange prohibited_output[];    // C.1.2, C.2.1, C.2.2, C.3-C.9
extern const std::size_t prohibited_output_size;
extern const CodeRange unassigned_3_2[];       // A.1
extern const std::size_t unassigned_3_2_size;
extern const CodeRange randalcat[];            // D.1: bidi R or AL
extern const std::size_t randalcat_size;
extern const CodeRange lcat[];                 // D.2: bidi L
extern const std::size_t lcat_size;

// NFKC data.
extern const CombiningClassRange combining_classes[];  // only classes != 0
extern const std::size_t combining_classes_size;
extern const char32_t decomposition_pool[];
extern const Decomposition decompositions[];
extern const std::size_t decompositions_size;
extern const Composition compositions[];
extern const std::size_t compositions_size;

}  // namespace pgtls::auth::unicode
