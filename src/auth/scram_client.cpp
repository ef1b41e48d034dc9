#include "auth/scram_client.hpp"

#include <algorithm>

#include "auth/base64.hpp"
#include "auth/saslprep.hpp"
#include "pgtls/error.hpp"

namespace pgtls::auth {
namespace {

constexpr std::size_t raw_nonce_len = 18;  // libpq's SCRAM_RAW_NONCE_LEN
constexpr std::size_t key_len = 32;        // SHA-256

const char* gs2_header(Gs2Flag f) {
    switch (f) {
        case Gs2Flag::n: return "n,,";
        case Gs2Flag::y: return "y,,";
        case Gs2Flag::p: return "p=tls-server-end-point,,";
    }
    return "n,,";
}

// RFC 5802 "printable": %x21-2B / %x2D-7E (no comma).
bool printable(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= 0x21 && u <= 0x7E && u != ',';
    });
}

// Splits "a=value,b=value" and checks the attribute letters in order.
struct Attr { char name; std::string_view value; };

bool next_attr(std::string_view& in, Attr& a) {
    if (in.size() < 2 || in[1] != '=') return false;
    a.name = in[0];
    auto comma = in.find(',', 2);
    a.value = in.substr(2, comma == std::string_view::npos ? std::string_view::npos : comma - 2);
    in = comma == std::string_view::npos ? std::string_view{} : in.substr(comma + 1);
    return true;
}

std::string quote_for_error(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 200)) {
        auto u = static_cast<unsigned char>(c);
        out += (u >= 0x20 && u < 0x7F) ? c : '?';
    }
    if (s.size() > 200) out += "...";
    return out;
}

}  // namespace

ScramClient::ScramClient(const crypto::Provider& crypto, std::string_view password, ScramOptions options)
    : crypto_(crypto), options_(std::move(options)), password_(scram_password(password)) {
    if (options_.gs2 == Gs2Flag::p && options_.channel_binding_data.empty())
        throw Error(ErrorKind::usage, "SCRAM-SHA-256-PLUS needs channel binding data");
}

ScramClient::~ScramClient() {
    crypto::secure_zero(password_.data(), password_.size());
    crypto::secure_zero(salted_password_.data(), salted_password_.size());
}

void ScramClient::fail(const std::string& message) {
    state_ = State::failed;
    crypto::secure_zero(password_.data(), password_.size());
    crypto::secure_zero(salted_password_.data(), salted_password_.size());
    throw Error(ErrorKind::authentication, message);
}

std::string ScramClient::client_first() {
    if (state_ != State::init) fail("SCRAM client-first-message requested twice");
    if (options_.nonce.empty()) {
        std::uint8_t raw[raw_nonce_len];
        crypto_.random(raw);
        options_.nonce = base64_encode(raw);
    } else if (!printable(options_.nonce)) {
        fail("SCRAM client nonce must be printable ASCII without commas");
    }
    std::string user;  // saslname: ',' and '=' escaped (RFC 5802 section 5.1)
    for (char c : options_.username) {
        if (c == ',') user += "=2C";
        else if (c == '=') user += "=3D";
        else user += c;
    }
    client_first_bare_ = "n=" + user + ",r=" + options_.nonce;
    state_ = State::first_sent;
    return gs2_header(options_.gs2) + client_first_bare_;
}

std::string ScramClient::client_final(std::string_view server_first) {
    if (state_ != State::first_sent) fail("unexpected SCRAM server-first-message");
    if (server_first.empty()) fail("malformed SCRAM message (empty server-first-message)");
    if (server_first.find('\0') != std::string_view::npos)
        fail("malformed SCRAM message (NUL byte in server-first-message)");
    server_first_.assign(server_first);

    std::string_view in = server_first;
    Attr a;
    if (!next_attr(in, a) || a.name != 'r')
        fail("malformed SCRAM message (attribute \"r\" expected at the start of server-first-message)");
    const std::string_view nonce = a.value;
    if (nonce.size() <= options_.nonce.size() ||
        !crypto::constant_time_equal(crypto::as_bytes(nonce.substr(0, options_.nonce.size())),
                                     crypto::as_bytes(options_.nonce)))
        fail("invalid SCRAM response (server nonce does not extend the client nonce)");
    if (!printable(nonce)) fail("invalid SCRAM response (server nonce has non-printable characters)");

    if (!next_attr(in, a) || a.name != 's') fail("malformed SCRAM message (attribute \"s\" expected after the nonce)");
    auto salt = base64_decode(a.value);
    if (!salt || salt->empty()) fail("malformed SCRAM message (invalid salt: not valid non-empty base64)");

    if (!next_attr(in, a) || a.name != 'i')
        fail("malformed SCRAM message (attribute \"i\" expected after the salt)");
    const std::string_view it = a.value;
    if (it.empty() || it.size() > 10 || !std::all_of(it.begin(), it.end(), [](char c) { return c >= '0' && c <= '9'; }))
        fail("malformed SCRAM message (invalid iteration count \"" + quote_for_error(it) + "\")");
    std::uint64_t iterations = 0;
    for (char c : it) iterations = iterations * 10 + std::uint64_t(c - '0');
    if (iterations == 0) fail("malformed SCRAM message (iteration count must be positive, server sent 0)");
    if (iterations > options_.max_iterations)
        fail("server requested " + std::string(it) + " SCRAM iterations, more than the limit of " +
             std::to_string(options_.max_iterations) + " (scram_max_iterations)");
    if (!in.empty() || server_first.back() == ',')
        fail("malformed SCRAM message (garbage at end of server-first-message)");

    // c= base64(gs2-header [cbind-data]).
    std::string cbind_input = gs2_header(options_.gs2);
    if (options_.gs2 == Gs2Flag::p)
        cbind_input.append(options_.channel_binding_data.begin(), options_.channel_binding_data.end());
    client_final_without_proof_ = "c=" + base64_encode(crypto::as_bytes(cbind_input)) + ",r=" + std::string(nonce);

    // SaltedPassword = Hi(password, salt, i); ClientKey = HMAC(SaltedPassword, "Client Key");
    // StoredKey = H(ClientKey); ClientSignature = HMAC(StoredKey, AuthMessage);
    // ClientProof = ClientKey XOR ClientSignature.
    salted_password_ = crypto_.pbkdf2_hmac(crypto::Hash::sha256, crypto::as_bytes(password_), *salt,
                                           static_cast<std::uint32_t>(iterations), key_len);
    crypto::secure_zero(password_.data(), password_.size());
    crypto::Bytes client_key = crypto_.hmac(crypto::Hash::sha256, salted_password_, crypto::as_bytes("Client Key"));
    crypto::Bytes stored_key = crypto_.digest(crypto::Hash::sha256, client_key);
    const std::string auth_message = client_first_bare_ + "," + server_first_ + "," + client_final_without_proof_;
    crypto::Bytes client_signature = crypto_.hmac(crypto::Hash::sha256, stored_key, crypto::as_bytes(auth_message));
    crypto::Bytes proof(key_len);
    for (std::size_t i = 0; i < key_len; ++i) proof[i] = client_key[i] ^ client_signature[i];
    std::string result = client_final_without_proof_ + ",p=" + base64_encode(proof);
    crypto::secure_zero(client_key.data(), client_key.size());
    crypto::secure_zero(stored_key.data(), stored_key.size());
    crypto::secure_zero(client_signature.data(), client_signature.size());
    crypto::secure_zero(proof.data(), proof.size());
    state_ = State::final_sent;
    return result;
}

void ScramClient::verify_server_final(std::string_view server_final) {
    if (state_ != State::final_sent) fail("unexpected SCRAM server-final-message");
    if (server_final.empty()) fail("malformed SCRAM message (empty server-final-message)");
    std::string_view in = server_final;
    Attr a;
    if (!next_attr(in, a)) fail("malformed SCRAM message (server-final-message is not an attribute)");
    if (a.name == 'e') fail("error received from server in SCRAM exchange: " + quote_for_error(a.value));
    if (a.name != 'v') fail("malformed SCRAM message (attribute \"v\" expected in server-final-message)");
    if (!in.empty() || server_final.back() == ',')
        fail("malformed SCRAM message (garbage at end of server-final-message)");
    auto signature = base64_decode(a.value);
    if (!signature || signature->size() != key_len) fail("malformed SCRAM message (invalid server signature)");

    crypto::Bytes server_key = crypto_.hmac(crypto::Hash::sha256, salted_password_, crypto::as_bytes("Server Key"));
    const std::string auth_message = client_first_bare_ + "," + server_first_ + "," + client_final_without_proof_;
    crypto::Bytes expected = crypto_.hmac(crypto::Hash::sha256, server_key, crypto::as_bytes(auth_message));
    crypto::secure_zero(server_key.data(), server_key.size());
    const bool match = crypto::constant_time_equal(expected, *signature);
    crypto::secure_zero(expected.data(), expected.size());
    if (!match) fail("incorrect server signature: the server does not know the password (SCRAM server proof failed)");
    crypto::secure_zero(salted_password_.data(), salted_password_.size());
    state_ = State::finished;
}

}  // namespace pgtls::auth
