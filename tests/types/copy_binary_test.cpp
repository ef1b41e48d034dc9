// The binary COPY stream parser: tuples handed out whole whatever the chunking, NULLs, and
// malformed streams refused.
#include "codec_test_util.hpp"
#include "pgtls/copy_rows.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

// Header, (1, "ab"), (NULL, ""), trailer.
std::string sample() {
    std::string s = detail::binary_copy_header();
    s += unhex("0002" "00000004" "00000001" "00000002") + "ab";
    s += unhex("0002" "ffffffff" "00000000");
    s += unhex("ffff");
    return s;
}

using Tuples = std::vector<std::vector<std::optional<std::string>>>;

Tuples parse_in_chunks(const std::string& data, std::size_t chunk) {
    Tuples out;
    detail::BinaryCopyParser p([&](const std::vector<std::optional<std::string_view>>& fields) {
        auto& t = out.emplace_back();
        for (const auto& f : fields) t.push_back(f ? std::optional<std::string>(*f) : std::nullopt);
    });
    for (std::size_t i = 0; i < data.size(); i += chunk) p.feed(std::string_view(data).substr(i, chunk));
    p.finish();
    return out;
}

}  // namespace

TEST(BinaryCopy, HeaderIsPostgresSignature) {
    EXPECT_EQ(tohex(detail::binary_copy_header()), "5047434f50590aff0d0a000000000000000000");
}

TEST(BinaryCopy, TuplesWholeAtEveryChunkSize) {
    const Tuples want{{std::string("\0\0\0\1", 4), std::string("ab")}, {std::nullopt, std::string()}};
    const std::string data = sample();
    for (std::size_t chunk = 1; chunk <= data.size(); ++chunk) {
        SCOPED_TRACE(chunk);
        EXPECT_EQ(parse_in_chunks(data, chunk), want);
    }
}

TEST(BinaryCopy, MalformedStreamsAreErrors) {
    const std::string good = sample();
    std::string bad_sig = good;
    bad_sig[0] = 'X';
    std::string oids = good;
    oids[11 + 1] = 1;  // flags bit 16: OIDs included
    std::string negative_len = detail::binary_copy_header() + unhex("0001fffffffe");
    std::string negative_count = detail::binary_copy_header() + unhex("fffe");
    for (const std::string& d : {bad_sig, oids, negative_len, negative_count, good.substr(0, good.size() - 2),
                                 good.substr(0, 5), good + unhex("0000")}) {
        SCOPED_TRACE(tohex(d));
        EXPECT_CONVERSION_ERROR(parse_in_chunks(d, 7));
    }
}
