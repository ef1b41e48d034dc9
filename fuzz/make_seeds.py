#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ from hand-built protocol messages shaped like
real PostgreSQL 15/18 traffic (same builders as tests/protocol/scripted_bytes.hpp). Re-run
after changing it: python3 fuzz/make_seeds.py"""
import os, struct, base64

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')

def msg(t, body): return t.encode() + struct.pack('!i', len(body) + 4) + body
def i32(v): return struct.pack('!i', v)
def i16(v): return struct.pack('!h', v)
def cstr(s): return s.encode() + b'\0'
auth_ok = msg('R', i32(0))
def ready(s='I'): return msg('Z', s.encode())
def ps(k, v): return msg('S', cstr(k) + cstr(v))
key = msg('K', i32(4242) + i32(0x12345678))
def rowdesc(cols, fmt=0):
    b = i16(len(cols))
    for name, oid in cols: b += cstr(name) + i32(16384) + i16(1) + i32(oid) + i16(-1) + i32(-1) + i16(fmt)
    return msg('T', b)
def datarow(fields):
    b = i16(len(fields))
    for f in fields: b += i32(-1) if f is None else i32(len(f)) + f
    return msg('D', b)
def cc(tag): return msg('C', cstr(tag))
def err(code, m, sev='ERROR'): return msg('E', b'S' + cstr(sev) + b'V' + cstr(sev) + b'C' + cstr(code) + b'M' + cstr(m) + b'\0')
def notice(m): return msg('N', b'SNOTICE\0VNOTICE\0C00000\0M' + cstr(m) + b'\0')

def write(target, name, data):
    d = os.path.join(root, target); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), 'wb').write(data)

params = b''.join(ps(k, v) for k, v in [('application_name', ''), ('client_encoding', 'UTF8'), ('DateStyle', 'ISO, MDY'),
    ('integer_datetimes', 'on'), ('IntervalStyle', 'postgres'), ('is_superuser', 'off'), ('server_encoding', 'UTF8'),
    ('server_version', '18.1'), ('session_authorization', 'trustuser'), ('standard_conforming_strings', 'on'), ('TimeZone', 'UTC')])
nonce = 'rOprNGfwEbeRWgbNEkqO'
sfirst = f'r={nonce}%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'
sfinal = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='
# query streams: mode byte even; mode&2 extended, mode&8 COPY TO STDOUT (with mode&2: streamed rows),
# mode&0x10 an implicit pipeline; seed byte
q = []
q.append(rowdesc([('?column?', 23)]) + datarow([b'1']) + cc('SELECT 1') + ready())
q.append(rowdesc([('a', 25), ('b', 23), ('c', 17)]) + datarow([b'hello', None, b'\\x00ff']) + datarow([b'', b'-7', b'\\x']) + cc('SELECT 2') + ready('T'))
q.append(cc('BEGIN') + cc('CREATE TABLE') + cc('INSERT 0 3') + ready('T'))
q.append(err('42P01', 'relation "nope" does not exist') + ready('E'))
q.append(msg('I', b'') + ready())
q.append(notice('hello') + msg('A', i32(77) + cstr('chan') + cstr('payload')) + ps('TimeZone', 'UTC') + cc('LISTEN') + ready())
q.append(msg('H', b'\0' + i16(2) + i16(0) + i16(0)) + msg('d', b'1\t2\n') + msg('c', b'') + cc('COPY 1') + ready())
q.append(msg('G', b'\0' + i16(1) + i16(0)) + ready())
ext = msg('1', b'') + msg('2', b'') + msg('t', i16(1) + i32(23)) + rowdesc([('x', 23)], 1) + datarow([i32(5)]) + cc('SELECT 1') + ready()
ext2 = msg('1', b'') + msg('2', b'') + msg('n', b'') + cc('INSERT 0 1') + ready()
ext3 = msg('1', b'') + msg('2', b'') + rowdesc([('x', 23)]) + datarow([b'1']) + msg('s', b'') + ready()
for i, s in enumerate(q): write('fuzz_backend_messages', f'query-{i}', bytes([0, i * 37 % 256]) + s)
for i, s in enumerate([ext, ext2, ext3]): write('fuzz_backend_messages', f'extended-{i}', bytes([2, i * 11]) + s)
write('fuzz_backend_messages', 'query-small-cap', bytes([4, 3]) + q[1])
write('fuzz_backend_messages', 'copy-out', bytes([8, 5]) + q[6])
write('fuzz_backend_messages', 'copy-out-error', bytes([8, 6]) + msg('H', b'\0' + i16(1) + i16(0)) + msg('d', b'x\n') + err('57014', 'canceling statement') + ready())
write('fuzz_backend_messages', 'streamed', bytes([10, 7]) + ext3)
# an implicit pipeline (mode&0x10): a query with its own Describe, then a run whose statement is
# described once (its first query's Bind fails), bound in binary and text, closed by the last
pipe = (msg('1', b'') + msg('2', b'') + rowdesc([('own', 25)]) + datarow([b'a']) + cc('SELECT 1') + ready()
        + msg('1', b'') + msg('t', i16(1) + i32(23)) + rowdesc([('n', 23)]) + err('22P02', 'invalid input syntax') + ready()
        + msg('2', b'') + datarow([i32(8)]) + cc('SELECT 1') + ready()
        + msg('2', b'') + cc('SELECT 0') + msg('3', b'') + ready())
write('fuzz_backend_messages', 'pipeline-run', bytes([0x10, 13]) + pipe)
# the same pipeline overlapped (mode&0x20): a second write joins it while it is answered
write('fuzz_backend_messages', 'pipeline-overlap', bytes([0x30, 17]) + pipe + pipe)
# startup streams: mode&1; 0x10 ssl_request, 0x20 direct
trust = auth_ok + params + key + ready()
# connect streams (mode&1 and mode&8): ConnectFlow over two hosts, sslmode=prefer,
# target_session_attrs=read-write (ParameterStatus, else SHOW transaction_read_only)
rw = ps('in_hot_standby', 'off') + ps('default_transaction_read_only', 'off')
show = rowdesc([('transaction_read_only', 25)]) + datarow([b'off']) + cc('SHOW') + ready()
write('fuzz_backend_messages', 'connect-tls-rw', bytes([0x09, 3]) + b'S' + auth_ok + params + rw + key + ready())
write('fuzz_backend_messages', 'connect-show', bytes([0x09, 4]) + b'N' + trust + show)
write('fuzz_backend_messages', 'connect-standby-then-next', bytes([0x09, 5]) + b'S' + auth_ok + params + ps('in_hot_standby', 'on') + key + ready() + b'S' + auth_ok + params + rw + key + ready())
write('fuzz_backend_messages', 'connect-error-fallback', bytes([0x09, 6]) + b'S' + err('28000', 'no pg_hba.conf entry', 'FATAL') + trust + show)
write('fuzz_backend_messages', 'startup-trust', bytes([1, 0]) + trust)
write('fuzz_backend_messages', 'startup-ssl', bytes([0x11, 5]) + b'S' + trust)
write('fuzz_backend_messages', 'startup-ssl-refused', bytes([0x11, 9]) + b'N' + trust)
write('fuzz_backend_messages', 'startup-direct', bytes([0x21, 1]) + trust)
write('fuzz_backend_messages', 'startup-cleartext', bytes([1, 2]) + msg('R', i32(3)) + trust)
write('fuzz_backend_messages', 'startup-md5', bytes([1, 3]) + msg('R', i32(5) + b'\x01\x02\x03\x04') + trust)
sasl = msg('R', i32(10) + cstr('SCRAM-SHA-256-PLUS') + cstr('SCRAM-SHA-256') + b'\0')
write('fuzz_backend_messages', 'startup-scram', bytes([1, 4]) + sasl + msg('R', i32(11) + sfirst.encode()) + msg('R', i32(12) + sfinal.encode()) + trust)
write('fuzz_backend_messages', 'startup-error', bytes([1, 6]) + err('28P01', 'password authentication failed for user "alice"', 'FATAL'))
write('fuzz_backend_messages', 'startup-negotiate', bytes([1, 7]) + msg('v', i32(0x30000) + i32(1) + cstr('_pq_.x')) + trust)
# protocol 3.2 (mode&2; mode&4 makes 3.2 the minimum): a 32-byte key, a downgrade to 3.0
key32 = msg('K', i32(1234) + bytes(range(32)))
write('fuzz_backend_messages', 'startup-32-long-key', bytes([3, 10]) + auth_ok + params + key32 + ready())
write('fuzz_backend_messages', 'startup-32-negotiate-down', bytes([3, 11]) + msg('v', i32(0x30000) + i32(0)) + trust)
write('fuzz_backend_messages', 'startup-32-min-refused', bytes([7, 12]) + msg('v', i32(0x30000) + i32(0)) + trust)
write('fuzz_backend_messages', 'startup-cb-require', bytes([0x91, 8]) + b'S' + sasl + msg('R', i32(11) + sfirst.encode()))
# SCRAM: server-first \0 server-final
write('fuzz_scram', 'rfc-like', sfirst.encode() + b'\0' + sfinal.encode())
write('fuzz_scram', 'error', sfirst.encode() + b'\0e=invalid-proof')
write('fuzz_scram', 'ext', sfirst.encode() + b',x=ext\0' + sfinal.encode() + b',x=1')
write('fuzz_scram', 'plus', sfirst.encode() + b'\0' + sfinal.encode() + b'\x01')
write('fuzz_scram', 'bad-iter', f'r={nonce}abc,s=QSXCR+Q6sek8bf92,i=0'.encode())
write('fuzz_scram', 'bad-salt', f'r={nonce}abc,s=!!!,i=4096'.encode())
write('fuzz_scram', 'mext', f'm=ext,r={nonce}abc,s=QSXCR+Q6sek8bf92,i=4096'.encode())
# passwords for SASLprep (0xFF first): ASCII, mapped to space / to nothing, compatibility and
# canonical compositions, Hangul, reordering of combining marks, bidi, prohibited, bad UTF-8
for i, pw in enumerate([b'pencil', '\u2168x'.encode(), 'a\u00adb\u00a0c'.encode(), 'e\u0301\ufb01'.encode(),
                        '\u1100\u1161\u11a8\uac00'.encode(), 'a\u0323\u0302\u0301q\u0307\u0323'.encode(),
                        '\u05d0\u05d1'.encode(), '\u05d0a\u05d1'.encode(), '\u2028'.encode(), b'\xc0\x80',
                        b'\xed\xa0\x80', b'\xf4\x90\x80\x80', '\U0001d400\u212b'.encode()]):
    write('fuzz_scram', f'password-{i}', b'\xff' + pw)
# pgpass: key line then file
pg = b'localhost:5432:postgres:alice\n'
write('fuzz_pgpass', 'basic', pg + b'localhost:5432:postgres:alice:secret\n')
write('fuzz_pgpass', 'wildcards', pg + b'# comment\n*:*:*:*:pw\\:with\\\\escapes\n')
write('fuzz_pgpass', 'escaped-host', b'h\\:x:1:d:u\n' + b'h\\:x:1:d:u:p\nother:*:*:*:q\n\n')
write('fuzz_pgpass', 'socketdir', b'/var/run/postgresql:5432:db:bob\n' + b'localhost:5432:db:bob:s3cr3t\r\n')
write('fuzz_pgpass', 'crlf-noeol', pg + b'a:b:c:d:e\r\nlocalhost:5432:postgres:alice:x')
# service file: name line then file
write('fuzz_service_file', 'basic', b'mydb\n[mydb]\nhost=localhost\nport=5432\ndbname=postgres\n')
write('fuzz_service_file', 'several', b'b\n# c\n[a]\nhost=x\n\n[b]\n  user = bob \nsslmode=require\napplication_name=a=b\n')
write('fuzz_service_file', 'bad', b'x\n[x\nhost\n=\n[x]\nnot a line\n')
write('fuzz_service_file', 'nested', b'x\n[x]\nservice=y\nhost=h\n')
# types: byte0 = (T<<1)|binary, byte1 = oid index (see fuzz_types.cpp)
oids = [0, 16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 700, 701, 1043, 1042, 1082, 1083, 1114, 1184, 1186, 1700, 2950, 3802, 1007, 1009,
        869, 650, 829, 774, 1560, 1562, 790, 2249, 16500, 3904, 3908, 4451, 4532]
def oi(o): return oids.index(o)
tv = [(0, 21, False, b'-32768'), (0, 21, True, i16(-2)), (1, 23, False, b'2147483647'), (1, 23, True, i32(-1)),
      (2, 20, False, b'-9223372036854775808'), (2, 20, True, struct.pack('!q', 1 << 40)), (3, 26, False, b'4294967295'),
      (3, 26, True, struct.pack('!I', 99)), (4, 20, False, b'18446744073709551615'), (5, 700, False, b'NaN'),
      (5, 700, True, struct.pack('!f', 1.5)), (6, 701, False, b'-Infinity'), (6, 701, True, struct.pack('!d', 3.25)),
      (6, 1700, False, b'1.5e300'), (7, 16, False, b't'), (7, 16, True, b'\x01'), (8, 25, False, 'ünïcode'.encode()),
      (8, 17, False, b'\\x48656c6c6f'), (8, 17, False, b'esc\\\\ape\\001'), (9, 17, True, b'\x00\xff'),
      (9, 17, False, b'\\xDEADbeef'), (10, 25, True, b'raw'), (11, 21, False, b'255'), (6, 701, False, b'1e-320')]
def words(*w): return b''.join(struct.pack('!i', x) for x in w)
tv += [(12, 1007, False, b'[0:1]={1,NULL}'), (13, 1007, False, b'{{1,2},{3,NULL}}'),
       (13, 1007, True, words(2, 1, 23, 2, 1, 1, 0, 4, 1, -1)), (14, 1009, False, b'{{{a,"b c"}},{{NULL,""}}}'),
       (14, 1009, True, words(3, 0, 25, 1, 1, 1, 1, 1, 1, 1, 120))]
tv += [(15, 869, False, b'fe80::1:0:0:2/64'), (15, 869, True, bytes.fromhex('02200004c0a80001')),
       (16, 650, True, bytes.fromhex('020801040a000000')), (17, 829, False, b'08:00:2b:01:02:03'),
       (18, 774, True, bytes.fromhex('08002b0102030405')), (19, 1562, True, bytes.fromhex('0000000aaac0')),
       (20, 790, False, b'-$92,233,720,368,547,758.08'), (20, 790, True, struct.pack('!q', -5))]
tv += [(21, 2249, False, b'(1,"a b","(2.5,""{1,2}"")")'), (21, 16500, False, b'(,,)'),
       (21, 2249, True, words(3, 23, 4, 1, 25, -1) + words(2249, 36, 2, 701, 8) + struct.pack('!d', 2.5) +
        words(1007, 12, 0, 0, 23)),
       (22, 16500, False, b'{"(1,x)","(2,\\"y z\\")"}'),
       (22, 16500, True, words(1, 0, 16501, 1, 1, 24, 2, 23, 4, 1, 25, 1) + b'z')]
tv += [(23, 3904, False, b'[1,5)'), (23, 3904, True, bytes.fromhex('0200000004000000010000000400000005')),
       (24, 3908, False, b'["2020-01-01 10:00:00",infinity)'),
       (24, 3908, True, bytes.fromhex('020000000800023e0fe886c800000000087fffffffffffffff')),
       (25, 4451, False, b'{[1,3),[5,7)}'), (25, 4451, True, bytes.fromhex('000000020000000908000000040000000400000009120000000400000005')),
       (26, 4532, False, b'{(1.5,2.5],[3,)}')]
for i, (t, o, b, v) in enumerate(tv): write('fuzz_types', f'v{i}', bytes([(t << 1) | int(b), oi(o)]) + v)
# conninfo
for i, s in enumerate(['host=localhost port=5432 dbname=postgres user=alice sslmode=verify-full',
                       "host='a b' password='x\\'y' options='-c search_path=s'",
                       'postgresql://alice:secret@[::1]:5432,localhost:5433/db?sslmode=require&target_session_attrs=read-write',
                       'postgres://%2Fvar%2Frun%2Fpostgresql/db?application_name=a%20b', 'service=mydb connect_timeout=3',
                       'host=h1,h2 hostaddr=127.0.0.1,::1 port=1,2 load_balance_hosts=random sslnegotiation=direct',
                       'postgresql:///db?host=/tmp&port=5432&require_auth=!password,md5 channel_binding=require']):
    write('fuzz_conninfo_parse', f's{i}', s.encode())
# certificates (fuzz_certificate): hand-built X.509 DER, unsigned (nothing here checks a
# signature), with the structures pgtls reads itself: the signature algorithm (RSA PKCS#1,
# RSA-PSS with and without a hash, ECDSA, Ed25519), subjectAltName dNSName and iPAddress
# entries (4, 16 and a bad 5 bytes), issuer and subject names for the root-file chain rule.
def der(tag, body):
    n = len(body)
    if n < 0x80: length = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, 'big'); length = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + length + body
def seq(*parts): return der(0x30, b''.join(parts))
def oid(hexs): return der(0x06, bytes.fromhex(hexs))
def name(cn): return seq(der(0x31, seq(oid('550403'), der(0x0c, cn.encode()))))
sha256_rsa = seq(oid('2a864886f70d01010b'), der(0x05, b''))
pss_sha384 = seq(oid('2a864886f70d01010a'), seq(der(0xa0, seq(oid('608648016503040202')))))
pss_default = seq(oid('2a864886f70d01010a'), seq())
ecdsa_sha512 = seq(oid('2a8648ce3d040304'))
ed25519_alg = seq(oid('2b6570'))
def cert(issuer, subject, alg=sha256_rsa, sans=None):
    tbs = [der(0xa0, der(0x02, b'\x02')), der(0x02, b'\x01\x23'), alg, name(issuer),
           seq(der(0x17, b'250101000000Z'), der(0x17, b'350101000000Z')), name(subject),
           seq(seq(oid('2a864886f70d010101'), der(0x05, b'')), der(0x03, b'\x00\x30\x00'))]
    if sans is not None:
        general = b''.join(der(0x82, v.encode()) if isinstance(v, str) else der(0x87, v) for v in sans)
        tbs.append(der(0xa3, seq(seq(oid('551d13'), der(0x01, b'\xff'), der(0x04, seq(der(0x01, b'\xff')))),
                                 seq(oid('551d11'), der(0x04, seq(general))))))
    return seq(seq(*tbs), alg, der(0x03, b'\x00' + bytes(16)))
def pem(d):
    b = base64.b64encode(d).decode()
    return '-----BEGIN CERTIFICATE-----\n' + '\n'.join(b[i:i + 64] for i in range(0, len(b), 64)) + '\n-----END CERTIFICATE-----\n'
def cert_seed(mode, host, rest): return bytes([mode, len(host)]) + host.encode() + rest
leaf_sans = ['localhost', '*.example.com', bytes([127, 0, 0, 1]), bytes(15) + b'\x01', b'\x01\x02\x03\x04\x05']
for i, (host, alg) in enumerate([('localhost', sha256_rsa), ('db.example.com', pss_sha384), ('127.0.0.1', pss_default),
                                 ('::1', ecdsa_sha512), ('other', ed25519_alg)]):
    write('fuzz_certificate', f'leaf-{i}', cert_seed(0, host, cert('Test CA', 'localhost', alg, leaf_sans)))
ca_root, ca_inter = cert('Root', 'Root'), cert('Root', 'Intermediate')
ca_leaf, ca_stray = cert('Intermediate', 'Leaf'), cert('Elsewhere', 'Stray')
write('fuzz_certificate', 'rootfile-pem',
      cert_seed(1, '', ('# roots\n' + pem(ca_stray) + pem(ca_root) + pem(ca_inter) + 'x\n' + pem(ca_leaf)).encode()))
write('fuzz_certificate', 'rootfile-der-root', cert_seed(1, '', ca_root))
write('fuzz_certificate', 'rootfile-der-stray', cert_seed(1, '', ca_stray))
for i, host in enumerate(['localhost', 'a.b.example.com', '127.1', '::ffff:1.2.3.4', 'Db.Example.COM', 'x..y', '0x7f.1 z']):
    write('fuzz_certificate', f'host-{i}', cert_seed(2, host, b''))
