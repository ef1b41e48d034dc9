// libFuzzer target: the encoders' size arithmetic (src/protocol/frontend.hpp) against an
// independent 128-bit computation, with sizes up to 4 GiB and beyond that are claimed, not
// allocated. A message the model says is too long (over max_message_length) or has too many
// parameters must be Error(usage) with the output untouched; one that fits (small enough to
// build here, <= 1 MiB) must encode with a length field equal to its size and the right
// parameter count. A Bind value is read only if the encoder accepted it: a wrong check reads
// past its backing and the sanitizer reports it.
//
// Input layout: byte 0 = encoder (query, query_header, parse, bind, extended_query,
// copy_data, close), byte 1 = parameter count selector, then 4-byte big-endian sizes
// (statement/sql size, then one per parameter; 0xffffffff = NULL).
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "protocol/frontend.hpp"
#include "pgtls/error.hpp"

using namespace pgtls;

namespace {

using fuzz::fail;

using u128 = unsigned __int128;
constexpr std::size_t fits_here = std::size_t{1} << 20;  // the most the harness lets an encoder build

// Backing for claimed sizes: real bytes up to fits_here ('x', no NUL), zero pages beyond
// (never touched by a refusal: the length is checked before any byte is read).
struct Backing {
    Backing() {
        real.assign(fits_here + 16, 'x');
        void* p = ::mmap(nullptr, huge_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) std::abort();
        huge = static_cast<const char*>(p);
    }
    std::string_view view(std::uint64_t n) const {
        return n <= fits_here ? std::string_view(real.data(), n) : std::string_view(huge, n);
    }
    static constexpr std::size_t huge_size = (std::size_t{1} << 33) + 4096;  // 8 GiB of address space
    std::string real;
    const char* huge = nullptr;
};

const Backing& backing() {
    static const Backing b;
    return b;
}

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

// Runs `encode` into a prefixed buffer and checks it against the model: `body` bytes after
// the length field, refused when over the limit or when `too_many` parameters.
template <typename F>
void check(F&& encode, u128 body, bool too_many, std::size_t count_at = 0, std::size_t count = 0) {
    const bool too_long = body + 4 > protocol::max_message_length;
    std::string out = "prefix";
    if (!too_long && !too_many && body > fits_here) return;  // valid, but too large to build here
    try {
        encode(out);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::usage) fail("refusal of another kind than usage");
        if (!too_long && !too_many) fail("a message within the limits was refused");
        if (out != "prefix") fail("a refused message left bytes in the output");
        return;
    }
    if (too_long || too_many) fail("a message over the limits was encoded");
    if (out.size() < 6 + 5) fail("output too short");
    const std::uint32_t len = be32(reinterpret_cast<const std::uint8_t*>(out.data()) + 7);
    if (len != body + 4) fail("length field differs from the model");
    if (count_at) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(out.data()) + 6 + count_at;
        if (((std::size_t(p[0]) << 8) | p[1]) != count) fail("parameter count field differs from the model");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 6) return 0;
    const std::uint8_t op = data[0] % 7;
    // A few counts around the Int16 boundary, or a small one from the input.
    static const std::size_t counts[] = {0, 1, 2, 3, 65534, 65535, 65536, 70000};
    const std::size_t nparams = counts[data[1] % 8];
    const std::uint64_t text = be32(data + 2);
    std::vector<std::uint64_t> sizes;  // per parameter; UINT64_MAX = NULL
    for (std::size_t i = 6; i + 4 <= size && sizes.size() < 8; i += 4) {
        const std::uint32_t v = be32(data + i);
        sizes.push_back(v == 0xffffffffu ? UINT64_MAX : v);
    }
    const Backing& b = backing();
    const std::string_view sql = b.view(text);

    // Parameters: the listed sizes, then NULLs up to nparams (a NULL costs 4 bytes, no data).
    std::vector<protocol::BindParam> bind_params(nparams);
    u128 values = 0;
    bool value_over_int32 = false;
    for (std::size_t i = 0; i < nparams; ++i) {
        const std::uint64_t n = i < sizes.size() ? sizes[i] : UINT64_MAX;
        values += 4;
        if (n == UINT64_MAX) continue;
        if (n > 0x7fffffff) value_over_int32 = true;  // not representable in a BindParam: skip
        values += n;
        bind_params[i] = {b.view(n).data(), static_cast<std::int32_t>(n), 0};
    }
    const bool too_many = nparams > protocol::max_parameters;

    switch (op) {
        case 0:
            check([&](std::string& o) { protocol::query(o, sql); }, u128{text} + 1, false);
            break;
        case 1:
            if (text > fits_here && text + 5 <= protocol::max_message_length) break;  // header only: no size check to do
            check([&](std::string& o) { protocol::query_header(o, sql); }, u128{text} + 1, false);
            break;
        case 2: {
            std::vector<std::uint32_t> types(nparams, 25);
            check([&](std::string& o) { protocol::parse(o, "", sql, types); },
                  u128{text} + 1 + 1 + 2 + 4 * u128{nparams}, too_many, 5 + 1 + text + 1,
                  nparams);
            break;
        }
        case 3:
            if (value_over_int32) break;
            check([&](std::string& o) { protocol::bind(o, "", "", bind_params, {}); }, 1 + 1 + 2 + 2 + 2 + values,
                  too_many, 5 + 1 + 1 + 2, nparams);
            break;
        case 4: {
            if (value_over_int32) break;
            std::vector<Param> params(nparams, Param{std::nullopt, 25, 0});
            for (std::size_t i = 0; i < nparams && i < sizes.size(); ++i)
                if (sizes[i] != UINT64_MAX && sizes[i] <= fits_here) params[i].value = std::string(b.view(sizes[i]));
                else if (sizes[i] != UINT64_MAX) return 0;  // a real value that large cannot be made here
            u128 parse_body = u128{text} + 1 + 1 + 2 + 4 * u128{nparams};
            std::string out = "prefix";
            protocol::ExtendedQuery q;
            q.sql = sql;
            q.params = params;
            const bool over = too_many || parse_body + 4 > protocol::max_message_length ||
                              1 + 1 + 2 + 2 + 2 + values + 4 > protocol::max_message_length;
            if (!over && parse_body + values > fits_here) break;
            try {
                protocol::extended_query(out, q);
                if (over) fail("an extended query over the limits was encoded");
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::usage || !over || out != "prefix") fail("extended query refusal is wrong");
            }
            break;
        }
        case 5:
            check([&](std::string& o) { protocol::copy_data(o, sql); }, text, false);
            break;
        case 6:
            check([&](std::string& o) { protocol::close(o, 'S', sql); }, u128{text} + 2, false);
            break;
    }
    return 0;
}
