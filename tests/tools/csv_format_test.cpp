// `pgtls --format csv` writes rows straight into its output buffer (tools/csv_format.cpp,
// tools/output_buffer.cpp): the bytes must be psql --csv's whatever the values and wherever
// the buffer's chunk boundaries fall. tests/cli compares against a real server.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "csv_format.hpp"
#include "output_buffer.hpp"

namespace pgtls::cli {
namespace {

// Everything written to an unlinked temporary file, read back.
class Captured {
public:
    Captured() : file_(std::tmpfile()) {}
    ~Captured() { std::fclose(file_); }
    int fd() const { return fileno(file_); }
    std::string text() const {
        std::string s;
        char buf[4096];
        for (off_t at = 0;;) {
            const ssize_t n = ::pread(fd(), buf, sizeof buf, at);
            if (n <= 0) return s;
            s.append(buf, static_cast<std::size_t>(n));
            at += n;
        }
    }

private:
    std::FILE* file_;
};

// A DataRow body: Int16 count, then Int32 length (-1 for NULL) and the bytes of each field.
std::vector<std::uint8_t> data_row(const std::vector<std::optional<std::string>>& fields) {
    std::vector<std::uint8_t> b;
    auto be = [&](std::uint32_t v, int bytes) {
        for (int i = bytes - 1; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    };
    be(static_cast<std::uint32_t>(fields.size()), 2);
    for (const auto& f : fields) {
        be(f ? static_cast<std::uint32_t>(f->size()) : 0xFFFFFFFFu, 4);
        if (f) b.insert(b.end(), f->begin(), f->end());
    }
    return b;
}

Result result_of(const std::vector<std::string>& names, const std::vector<std::vector<std::optional<std::string>>>& rows) {
    std::vector<Column> columns;
    for (const auto& n : names) columns.push_back(Column{n, 0, 0, 25, -1, -1, 0});
    Result r;
    r.set_columns(std::move(columns));
    for (const auto& row : rows) r.add_data_row(data_row(row));
    return r;
}

std::string csv_of(const Result& r, std::size_t capacity) {
    Captured file;
    {
        OutputBuffer out(file.fd(), "test file", capacity);
        write_csv_header(out, r.column_info());
        for (const Row row : r) write_csv_row(out, row);
        out.flush();
        EXPECT_EQ(out.bytes(), file.text().size());
    }
    return file.text();
}

TEST(CsvFormat, QuotesExactlyWhatPsqlQuotes) {
    const Result r = result_of({"a", "b,c", "say \"hi\"", "ü"},
                               {{std::string("plain"), std::nullopt, std::string(""), std::string("café ☃")},
                                {std::string("x,y"), std::string("q\""), std::string("l1\nl2"), std::string("cr\rx")},
                                {std::string("\"\""), std::string(" spaced "), std::string("tab\there"), std::nullopt}});
    const std::string expected =
        "a,\"b,c\",\"say \"\"hi\"\"\",ü\n"
        "plain,,\"\",café ☃\n"
        "\"x,y\",\"q\"\"\",\"l1\nl2\",\"cr\rx\"\n"
        "\"\"\"\"\"\", spaced ,tab\there,\n";
    EXPECT_EQ(csv_of(r, OutputBuffer::default_capacity), expected);
}

// A line "\." would end the data of COPY ... FROM STDIN (CSV) early, losing the rows after it.
TEST(CsvFormat, QuotesCopysEndOfDataMarker) {
    const Result r = result_of({"v"}, {{std::string("\\.")}, {std::string("\\.x")}, {std::string("\\")}});
    EXPECT_EQ(csv_of(r, OutputBuffer::default_capacity), "v\n\"\\.\"\n\\.x\n\\\n");
    EXPECT_EQ(csv_of(r, 64), "v\n\"\\.\"\n\\.x\n\\\n");
}

// The quoting scan reads eight bytes at a time: a special byte at any position of any length
// must be found, and bytes near them (0x2B, ',' | 0x80, 0x8A, 0x0B, 0x21) must not be taken for them.
TEST(CsvFormat, FindsSpecialBytesAtEveryPositionOfEveryLength) {
    const std::string near = "+\xAC\x8A\x0B!\x2D\xA2\x0C\x8D#";
    // Capacity 64: fields longer than 31 bytes take the path for fields larger than the buffer.
    for (std::size_t capacity : {64, 4096})
    for (std::size_t len = 1; len <= 40; ++len) {
        std::string plain;
        for (std::size_t i = 0; i < len; ++i) plain += near[i % near.size()];
        EXPECT_EQ(csv_of(result_of({"v"}, {{plain}}), capacity), "v\n" + plain + "\n") << "length " << len;
        for (std::size_t pos = 0; pos < len; ++pos)
            for (char special : {',', '"', '\n', '\r'}) {
                std::string v = plain;
                v[pos] = special;
                std::string quoted = "\"";
                for (char c : v) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
                EXPECT_EQ(csv_of(result_of({"v"}, {{v}}), capacity), "v\n" + quoted + "\"\n")
                    << "length " << len << " position " << pos << " byte " << int(special);
            }
    }
}

TEST(CsvFormat, ChunkBoundariesDoNotChangeTheBytes) {
    std::vector<std::vector<std::optional<std::string>>> rows;
    for (int i = 0; i < 300; ++i)
        rows.push_back({std::to_string(i), std::string(static_cast<std::size_t>(i % 97), '"'), std::nullopt,
                        std::string(static_cast<std::size_t>(i * 7), 'x') + ",\n",
                        std::string(static_cast<std::size_t>(i * 5), 'y')});
    const Result r = result_of({"i", "quotes", "null", "long", "plain"}, rows);
    const std::string reference = csv_of(r, 1 << 20);
    for (std::size_t capacity : {64, 100, 1000, 4096})
        EXPECT_EQ(csv_of(r, capacity), reference) << "capacity " << capacity;
}

TEST(OutputBuffer, AFailedWriteIsAnOutputErrorNamingTheOutput) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    ::close(fds[0]);
    ::close(fds[1]);  // writes to a closed descriptor fail with EBADF
    OutputBuffer out(fds[1], "'out.csv'", 64);
    out.append("row\n");
    try {
        out.flush();
        FAIL() << "no error";
    } catch (const OutputError& e) {
        EXPECT_NE(std::string(e.what()).find("'out.csv'"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace pgtls::cli
