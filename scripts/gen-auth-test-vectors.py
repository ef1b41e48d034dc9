#!/usr/bin/env python3
"""Print the expected values used by tests/auth/*: digests, HMACs, PBKDF2 and SCRAM exchanges
computed independently with Python's hashlib/hmac (and stringprep/unicodedata for SASLprep), so
the C++ providers are checked against a second implementation. Re-run and paste if a vector
changes; the tests embed the output verbatim."""
import base64
import hashlib
import hmac

ALGS = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]


def h(alg, data):
    return hashlib.new(alg, data).hexdigest()


print("// ---- digests")
for alg in ALGS:
    for name, msg in [("empty", b""), ("abc", b"abc"),
                      ("448", b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                      ("896", b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
                      ("million_a", b"a" * 1000000)]:
        print(f'{{"{alg}", "{name}", "{h(alg, msg)}"}},')
print("// ---- digest of digests over prefixes 0..299 of bytes i*7+3")
pattern = bytes((i * 7 + 3) & 0xFF for i in range(300))
for alg in ALGS:
    acc = b"".join(hashlib.new(alg, pattern[:n]).digest() for n in range(300))
    print(f'{{"{alg}", "{h(alg, acc)}"}},')
    acc = b"".join(hmac.new(pattern[:n % 200], pattern[:n], alg).digest() for n in range(300))
    print(f'{{"hmac-{alg}", "{h(alg, acc)}"}},')

print("// ---- pbkdf2-hmac-sha256")
for p, s, c, l in [(b"password", b"salt", 1, 32), (b"password", b"salt", 2, 32), (b"password", b"salt", 4096, 32),
                   (b"passwordPASSWORDpassword", b"saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 40),
                   (b"pass\0word", b"sa\0lt", 4096, 16)]:
    print(p, s, c, l, hashlib.pbkdf2_hmac("sha256", p, s, c, l).hex())
for alg in ["sha1", "sha512"]:
    print(alg, hashlib.pbkdf2_hmac(alg, b"password", b"salt", 4096, 64).hex())


def scram(password, user, cnonce, snonce_suffix, salt, iters, gs2, cbdata=b""):
    first_bare = f"n={user},r={cnonce}"
    server_first = f"r={cnonce}{snonce_suffix},s={base64.b64encode(salt).decode()},i={iters}"
    cbind = base64.b64encode(gs2.encode() + cbdata).decode()
    final_wo = f"c={cbind},r={cnonce}{snonce_suffix}"
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters, 32)
    ck = hmac.new(salted, b"Client Key", "sha256").digest()
    sk = hashlib.sha256(ck).digest()
    am = f"{first_bare},{server_first},{final_wo}".encode()
    proof = bytes(a ^ b for a, b in zip(ck, hmac.new(sk, am, "sha256").digest()))
    srv = hmac.new(hmac.new(salted, b"Server Key", "sha256").digest(), am, "sha256").digest()
    return gs2 + first_bare, server_first, final_wo + ",p=" + base64.b64encode(proof).decode(), "v=" + base64.b64encode(srv).decode()


print("// ---- SCRAM")
salt = bytes(range(1, 17))
cb = hashlib.sha256(b"certificate-der").digest()
for pw, gs2, cbd in [("scram-secret", "n,,", b""), ("scram-secret", "y,,", b""),
                     ("scram-secret", "p=tls-server-end-point,,", cb), ("p\u00e4ssw\u00f6rd", "n,,", b""),
                     ("IX", "n,,", b"")]:
    print(pw.encode(), gs2, scram(pw, "", "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j", salt, 4096, gs2, cbd))
print("cb", cb.hex())
