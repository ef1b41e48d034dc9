#!/usr/bin/env python3
"""Runs the built `pgtls` tool and every example against the servers of
scripts/test-servers.sh and checks output and exit status (0 ok, 1 SQL error,
2 connection/TLS/auth failure, 3 bad arguments or configuration).

usage: cli_test.py BUILD_DIR
A missing env file FAILS (never skips): run scripts/test-servers.sh start."""
import json
import os
import socket
import subprocess
import sys

BUILD = sys.argv[1]
PGTLS = os.path.join(BUILD, "tools", "pgtls")
EXAMPLES = os.path.join(BUILD, "examples")

failures = []
checks = 0


def env_file():
    if os.environ.get("PGTLS_TEST_ENV"):
        return os.environ["PGTLS_TEST_ENV"]
    return os.path.join(os.environ.get("PGTLS_TEST_DIR", "/tmp/pgtls-test"), "env")


def load_env():
    path = env_file()
    try:
        with open(path) as f:
            pairs = dict(l.strip().split("=", 1) for l in f if "=" in l)
    except OSError:
        print(f"FAIL: test servers not running ({path} missing): run scripts/test-servers.sh start")
        sys.exit(1)
    return pairs


E = load_env()
PKI = E["PGTLS_TEST_PKI"]
PORT = {"pg15": E["PGTLS_PG15_PORT"], "pg15nossl": E["PGTLS_PG15_NOSSL_PORT"], "pg18": E["PGTLS_PG18_PORT"]}
PASSWORDS = {"trustuser": "", "scramuser": "scram-secret", "pwuser": "pw-secret", "md5user": "md5-secret"}

# A clean environment: no PG* variable of the caller leaks into the runs.
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
BASE_ENV["HOME"] = "/nonexistent-pgtls-cli-test"  # no ~/.pgpass, ~/.postgresql


def conninfo(server, user="scramuser", extra=""):
    pw = PASSWORDS.get(user, "")
    s = f"host=127.0.0.1 port={PORT[server]} dbname=pgtls user={user}"
    if pw:
        s += f" password={pw}"
    return (s + " " + extra).strip()


def run(args, stdin=None, env=None, prog=PGTLS):
    e = dict(BASE_ENV)
    e.update(env or {})
    p = subprocess.run([prog] + args, input=stdin, capture_output=True, text=True, errors="replace", env=e, timeout=60)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    global checks
    checks += 1
    if cond:
        print(f"ok   {name}")
    else:
        print(f"FAIL {name}\n     {detail}")
        failures.append(name)


def expect(name, args, code, stdin=None, env=None, out_has=(), err_has=(), out_equals=None, prog=PGTLS):
    rc, out, err = run(args, stdin, env, prog)
    ok = rc == code and all(s in out for s in out_has) and all(s in err for s in err_has)
    if out_equals is not None:
        ok = ok and out == out_equals
    check(name, ok, f"exit {rc} (want {code})\n     stdout: {out!r}\n     stderr: {err!r}")
    return out, err


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- backends and help
rc, out, err = run(["backends", "--json"])
backends = json.loads(out) if rc == 0 else []
check("backends --json parses", rc == 0 and len(backends) >= 1 and all(
    {"name", "library_version", "capabilities", "default"} <= set(b) for b in backends), out + err)
names = [b["name"] for b in backends]
check("backends: exactly one default", sum(b["default"] for b in backends) == 1, out)
expect("backends (text)", ["backends"], 0, out_has=names)
for sub in ([], ["ping"], ["conninfo"], ["backends"]):
    expect(f"{' '.join(sub) or 'pgtls'} --help", sub + ["--help"], 0, out_has=["Usage: pgtls " + (sub[0] if sub else "")])

# ---------------------------------------------------------------- exit 3: arguments, configuration
expect("unknown option -> 3", ["--bogus"], 3, err_has=["unknown option"])
expect("bad --format -> 3", ["--format", "xml", "-c", "select 1"], 3, err_has=["--format"])
expect("-c without value -> 3", ["-c"], 3)
expect("two conninfo -> 3", ["ping", "a=1", "b=2"], 3)
expect("bad sslmode -> 3", ["-c", "select 1", conninfo("pg15", extra="sslmode=bogus")], 3, err_has=["sslmode"])
expect("conninfo bad keyword -> 3", ["conninfo", "nosuchkey=1"], 3, err_has=["nosuchkey"])
expect("unknown backend -> 3", ["ping", "--backend", "nosuchtls", conninfo("pg15", extra="sslmode=require")], 3,
       err_has=["nosuchtls"])
expect("backends takes no conninfo -> 3", ["backends", "host=x"], 3)

# ---------------------------------------------------------------- exit 2: connection, TLS, auth
expect("refused port -> 2", ["ping", f"host=127.0.0.1 port={closed_port()} user=x sslmode=disable"], 2)
expect("wrong password -> 2", ["ping", conninfo("pg15", "scramuser").replace("scram-secret", "wrong")], 2,
       err_has=["password"])
expect("untrusted server certificate -> 2",
       ["ping", conninfo("pg15", extra=f"sslmode=verify-full sslrootcert={PKI}/other-ca.crt")], 2)
expect("sslmode=require on ssl=off server -> 2", ["ping", conninfo("pg15nossl", extra="sslmode=require")], 2)
expect("channel_binding=require with sslmode=disable -> 3",
       ["ping", conninfo("pg15nossl", extra="sslmode=disable channel_binding=require")], 3, err_has=["channel_binding"])
expect("channel_binding=require, server offers md5 -> 2",
       ["ping", conninfo("pg15", "md5user", extra="sslmode=require channel_binding=require")], 2)

# ---------------------------------------------------------------- exit 1: SQL errors, DETAIL/HINT
ci = conninfo("pg15", extra="sslmode=require")
expect("missing table -> 1", ["-c", "select * from no_such_table", ci], 1, err_has=["ERROR", "no_such_table"])
expect("DETAIL and HINT lines", ["-c", "DO $$BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'd-1', HINT = 'h-1'; END$$", ci],
       1, err_has=["boom", "\nDETAIL:  d-1\n", "\nHINT:  h-1\n"])
expect("error stops later -c", ["-c", "select 1/0", "-c", "select 'not reached'", ci], 1, err_has=["division by zero"])

# ---------------------------------------------------------------- output formats
expect("table format", ["-c", "select 1 as n, 'abc' as t, NULL as z", ci], 0,
       out_equals=" n |  t  | z \n---+-----+---\n 1 | abc | \n(1 row)\n\n")
expect("table: command tag", ["-c", "create temp table t(a int)", ci], 0, out_equals="CREATE TABLE\n")
expect("table: several rows", ["-c", "select g from generate_series(1,3) g", ci], 0, out_has=["(3 rows)"])
expect("csv format", ["--format", "csv", "-c", "select 1 as a, 'x,y' as b, NULL as c, '' as d, 'q\"' as e", ci], 0,
       out_equals='a,b,c,d,e\n1,"x,y",,"","q"""\n')
rc, out, err = run(["--format=json", "-c", "select 1 as a, 'x' as b, true as c, NULL as d, '{\"k\":[1]}'::jsonb as j", ci])
try:
    doc = json.loads(out)
    ok = rc == 0 and doc["rows"] == [{"a": 1, "b": "x", "c": True, "d": None, "j": {"k": [1]}}] and doc["command"] == "SELECT 1"
except (ValueError, KeyError):
    ok = False
check("json format", ok, out + err)

# ---------------------------------------------------------------- hostile values (issue 15)
# Stored data must not drive the terminal: control characters as psql 15 shows them.
expect("table: control characters escaped as psql does",
       ["-c", "select E'a\\x1b]0;title\\x07b' as x, E'c\\rd' as y, 'ok' as z", ci], 0,
       out_equals="         x          |  y   | z  \n--------------------+------+----\n a\\x1B]0;title\\x07b | c\\rd | ok\n(1 row)\n\n")
expect("table: newline and tab in a value as psql's multi-line cells",
       ["-c", "select E'l1\\nline2' as a, 42 as n, E'x\\ny\\tz' as last, 'q' as q, E'\\x7f|' as d", ci], 0,
       out_equals="   a   | n  |   last    | q |   d   \n-------+----+-----------+---+-------\n"
                  " l1   +| 42 | x        +| q | \\x7F|\n line2 |    | y       z |   | \n(1 row)\n\n")
expect("table: last column continued", ["-c", "select 1 as a, E'x\\nyy' as b", ci], 0,
       out_equals=" a | b  \n---+----\n 1 | x +\n   | yy\n(1 row)\n\n")
expect("table: C1 control shown as \\u009B", ["-c", "select U&'a\\009Bb' as x", ci], 0, out_has=[" a\\u009Bb\n"])
rc, out, err = run(["-c", "select E'A\\x1b[2J' as \"c\\x1b\"", ci])
check("table: no raw ESC anywhere in the output", rc == 0 and "\x1b" not in out, repr(out))


def json_lines(args):
    """Runs pgtls --format json; returns (exit, [parsed line, ...] or None, raw stdout)."""
    p = subprocess.run([PGTLS, "--format", "json"] + args, capture_output=True, env=BASE_ENV, timeout=60)
    try:
        text = p.stdout.decode("utf-8", errors="strict")
        return p.returncode, [json.loads(l) for l in text.splitlines()], p.stdout
    except (UnicodeDecodeError, ValueError):
        return p.returncode, None, p.stdout


rc, docs, raw = json_lines(["-c", "select E'{\\n  \"a\": [1,\\n 2],\\n \"s\": \"x\\\\ny\"}'::json as j, "
                                  "E'{\"b\":\\n true}'::jsonb as jb, E'line1\\nline2' as t", ci])
check("json: json values with newlines stay on one line", rc == 0 and docs is not None and len(docs) == 1
      and docs[0]["rows"] == [{"j": {"a": [1, 2], "s": "x\ny"}, "jb": {"b": True}, "t": "line1\nline2"}], repr(raw))
rc, docs, raw = json_lines(["-c", "select 'NaN'::float8 as f, 'Infinity'::numeric as n, '-Infinity'::float4 as m, "
                                  "1.50::numeric as d, -7::int8 as i, 1e300::float8 as e, 'nan'::numeric as nn", ci])
check("json: numbers bare only when they are JSON numbers", rc == 0 and docs is not None and docs[0]["rows"] == [
    {"f": "NaN", "n": "Infinity", "m": "-Infinity", "d": 1.5, "i": -7, "e": 1e300, "nn": "NaN"}] and b'"d":1.50' in raw,
      repr(raw))
# A real server sends bytes that are not UTF-8 when asked for LATIN1: é alone (E9), and
# í + NBSP + U+0080 = ED A0 80, a UTF-16 surrogate in CESU-8 form (not UTF-8 either).
latin1 = conninfo("pg15", extra="sslmode=require client_encoding=LATIN1")
rc, docs, raw = json_lines(["-c", "select U&'caf\\00E9' as a, U&'\\00ED\\00A0\\0080' as s, "
                                  "('[\"' || U&'\\00ED\\00A0\\0080' || '\"]')::json as j, "
                                  "U&'caf\\00E9' as U&\"k\\00E9\"", latin1])
check("json: invalid UTF-8 from the server becomes U+FFFD (strict: surrogates too)",
      rc == 0 and docs is not None and docs[0]["rows"] == [{"a": "caf\ufffd", "s": "\ufffd" * 3, "j": ["\ufffd" * 3],
                                                               "k\ufffd": "caf\ufffd"}], repr(raw))
rc, out, _ = run(["-c", "select U&'caf\\00E9' as a", latin1])
check("table: invalid UTF-8 shown as \\xHH", rc == 0 and " caf\\xE9" in out, repr(out))

# A real server cannot put a non-number in an int8 column or invalid json in a json column;
# a scripted one (trust, no TLS) answers any query with such a row.
def forged_row_server(columns):
    """Serves one connection; `columns` is [(name bytes, type oid, value bytes)]. Returns the port."""
    import struct
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def msg(t, body):
        return t + struct.pack("!i", len(body) + 4) + body

    def serve():
        conn, _ = srv.accept()
        with conn:
            n = struct.unpack("!i", conn.recv(4))[0]
            while n > 4:
                n -= len(conn.recv(n - 4))
            conn.sendall(msg(b"R", struct.pack("!i", 0)) + msg(b"S", b"server_version\x0015.0\x00")
                         + msg(b"K", struct.pack("!ii", 1, 2)) + msg(b"Z", b"I"))
            request = conn.recv(65536)  # a Query, or Parse/Bind/Describe/Execute/Sync (a streamed SELECT)
            desc = struct.pack("!h", len(columns)) + b"".join(
                name + b"\x00" + struct.pack("!ihihih", 0, 0, oid, -1, -1, 0) for name, oid, _ in columns)
            row = struct.pack("!h", len(columns)) + b"".join(struct.pack("!i", len(v)) + v for _, _, v in columns)
            extended = msg(b"1", b"") + msg(b"2", b"") if request[:1] == b"P" else b""
            conn.sendall(extended + msg(b"T", desc) + msg(b"D", row) + msg(b"C", b"SELECT 1\x00") + msg(b"Z", b"I"))
            conn.recv(65536)  # Terminate
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


forged = [(b"n", 20, b'1,"forged":true'), (b"b", 16, b"yes"), (b"j", 114, b'{"a":1}],"rows":[{"x":1}'),
          (b"f", 701, b"1e5"), (b"jb", 3802, b'{"k":\n [1, 2]}'), (b"s\xed\xa0\x80", 25, b"\xc0\xaf")]
port = forged_row_server(forged)
rc, docs, raw = json_lines(["-c", "select", f"host=127.0.0.1 port={port} user=x dbname=x sslmode=disable"])
check("json: values forged by a hostile server are quoted, never embedded bare",
      rc == 0 and docs is not None and len(docs) == 1 and docs[0]["rows"] == [
          {"n": '1,"forged":true', "b": "yes", "j": '{"a":1}],"rows":[{"x":1}', "f": 1e5, "jb": {"k": [1, 2]},
           "s\ufffd\ufffd\ufffd": "\ufffd\ufffd"}], repr(raw))

# ---------------------------------------------------------------- secrets in usage errors
for args in (["ping", "host=a password=hunter2 user=x", "postgresql://u:s3cret@h/db?sslpassword=k3y"],
             ["host=a pasword='hunter2'", "b=2"],
             ["--password=hunter2"]):
    rc, out, err = run(args)
    check(f"usage error masks secrets: {args[-1][:12]}", rc == 3 and not any(
        s in err for s in ("hunter2", "s3cret", "k3y")) and ("********" in err or "--password" in err), err)

# ---------------------------------------------------------------- statements from stdin
script = """-- a comment; not a statement
select 'a;b' as s;  /* block; /* nested; */ comment */
select $x$ semi;colon $x$ as d;
select E'it\\'s;' as e
"""
rc, out, err = run(["--format", "csv", ci], stdin=script)
check("stdin: split respects quotes, dollar quotes, comments", rc == 0 and out == "s\na;b\n\nd\n semi;colon \n\ne\nit's;\n",
      f"exit {rc} {out!r} {err!r}")
expect("stdin: error names the line and stops", [ci], 1, stdin="select 1;\n\nselect nope;\nselect 'x';\n",
       out_has=["(1 row)"], err_has=["<stdin>:3:", "nope"])
rc, out, _ = run([ci], stdin="select 1;\n\nselect nope;\nselect 'unreached';\n")
check("stdin: nothing after the error runs", "unreached" not in out, out)

# ---------------------------------------------------------------- environment as in libpq
expect("environment supplies the connection", ["-c", "select current_user"], 0, out_has=["scramuser"],
       env={"PGHOST": "127.0.0.1", "PGPORT": PORT["pg15"], "PGUSER": "scramuser", "PGPASSWORD": "scram-secret",
            "PGDATABASE": "pgtls", "PGSSLMODE": "require"})

# ---------------------------------------------------------------- conninfo
rc, out, err = run(["conninfo", "--json", conninfo("pg15", extra="sslmode=require")],
                   env={"PGAPPNAME": "cli-test-app"})
try:
    doc = json.loads(out)
    kw = {s["keyword"]: s for s in doc["settings"]}
    ok = (rc == 0 and "scram-secret" not in out and kw["sslmode"]["value"] == "require"
          and kw["application_name"]["source"] in ("environment", "env") and "hosts" in doc)
except (ValueError, KeyError, TypeError):
    ok = False
check("conninfo --json: sources, password masked", ok, out + err)
expect("conninfo (text) masks password", ["conninfo", conninfo("pg15")], 0, out_has=["sslmode"])
rc, out, _ = run(["conninfo", conninfo("pg15")])
check("conninfo (text) hides the password", "scram-secret" not in out, out)

# ---------------------------------------------------------------- ping on every backend
REQUIRED = {"backend", "negotiation", "encryption", "ssl", "tls_version", "cipher", "alpn", "server_cert_subject", "auth_method",
            "channel_binding", "server_version", "timings_ms"}
PHASES = {"tcp_connect", "tls_handshake", "authentication", "first_query"}


def ping(args):
    rc, out, err = run(["ping", "--json"] + args)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, out + err


for b in names:
    cases = [
        ("pg15 classic", conninfo("pg15", extra="sslmode=require"), "postgres", "15"),
        ("pg18 classic", conninfo("pg18", extra="sslmode=require"), "postgres", "18"),
        ("pg18 direct", conninfo("pg18", extra="sslmode=require sslnegotiation=direct"), "direct", "18"),
    ]
    for label, ci, negotiation, major in cases:
        rc, doc, err = ping(["--backend", b, ci])
        ok = (rc == 0 and doc is not None and REQUIRED <= set(doc) and PHASES <= set(doc["timings_ms"])
              and doc["backend"] == b and doc["ssl"] is True and doc["encryption"] == "tls"
              and doc["negotiation"] == negotiation
              and doc["tls_version"].startswith("TLS") and doc["cipher"] and doc["server_version"].startswith(major)
              and "localhost" in doc["server_cert_subject"] and doc["auth_method"].startswith("SCRAM-SHA-256")
              and (negotiation != "direct" or doc["alpn"] == "postgresql"))
        check(f"ping --json {b} {label}", ok, f"exit {rc} {doc} {err}")
    rc, doc, err = ping(["--backend", b, conninfo("pg18", extra="sslmode=require channel_binding=require")])
    check(f"ping {b} channel binding", rc == 0 and doc["channel_binding"] is True
          and doc["auth_method"] == "SCRAM-SHA-256-PLUS", f"{rc} {doc} {err}")
    rc, doc, err = ping(["--backend", b, conninfo("pg18", "certuser", extra=f"sslmode=verify-full sslrootcert={PKI}/ca.crt "
                                                                         f"sslcert={PKI}/client.crt sslkey={PKI}/client.key")])
    check(f"ping {b} client certificate", rc == 0 and doc["client_cert_sent"] is True, f"{rc} {doc} {err}")
    expect(f"-c with --backend {b}", ["--backend", b, "-c", "select 42 as answer", conninfo("pg18", extra="sslmode=require")],
           0, out_has=["answer", "42", "(1 row)"])
    expect(f"ping text {b}", ["ping", "-b", b, conninfo("pg15", extra="sslmode=require")], 0,
           out_has=["encryption:           tls", "tls_version:", "cipher:", "timings_ms:", "first_query=", b])

rc, doc, err = ping([conninfo("pg15nossl", "trustuser", extra="sslmode=disable")])
check("ping without TLS", rc == 0 and doc["ssl"] is False and doc["encryption"] == "plaintext"
      and doc["auth_method"] == "trust", f"{rc} {doc} {err}")

# GSSAPI authentication, when the Kerberos rig runs (scripts/test-kerberos.sh start) and the
# build has the gssapi feature (`pgtls backends` does not say; a refusal names the feature).
KRB_ENV = os.path.join(os.environ.get("PGTLS_TEST_DIR", "/tmp/pgtls-test"), "krb-env")
if os.path.exists(KRB_ENV):
    with open(KRB_ENV) as f:
        K = dict(l.strip().split("=", 1) for l in f if "=" in l)
    krb = {"KRB5_CONFIG": K["KRB5_CONFIG"], "KRB5CCNAME": K["KRB5CCNAME"]}
    gss_ci = (f"host={K['PGTLS_KRB_HOST']} hostaddr={K['PGTLS_KRB_HOSTADDR']} port={K['PGTLS_KRB_PORT']} "
              f"user={K['PGTLS_KRB_USER']} dbname=pgtls")
    # gssencmode=disable: GSSAPI authentication alone (with the feature, prefer is the default
    # and would encrypt with GSSAPI before any TLS, as libpq does).
    rc, out, err = run(["ping", "--json", gss_ci + " sslmode=disable gssencmode=disable"], env=krb)
    if "GSSAPI authentication not supported" not in err:
        doc = json.loads(out) if rc == 0 else None
        check("ping gss plaintext", doc is not None and doc["auth_method"] == "gss"
              and doc["encryption"] == "plaintext", f"{rc} {out} {err}")
        rc, out, err = run(["ping", "--json", gss_ci + " gssencmode=require"], env=krb)
        doc = json.loads(out) if rc == 0 else None
        check("ping gss encryption", doc is not None and doc["auth_method"] == "gss"
              and doc["encryption"] == "gss" and doc["ssl"] is False, f"{rc} {out} {err}")
        rc, out, err = run(["ping", gss_ci + " gssencmode=require"], env=krb)
        check("ping shows gss encryption", rc == 0 and any(l.split() == ["encryption:", "gss"] for l in out.splitlines()),
              f"{rc} {out} {err}")
        rc, out, err = run(["ping", "--json", gss_ci + " sslmode=require gssencmode=disable"], env=krb)
        doc = json.loads(out) if rc == 0 else None
        check("ping gss over tls", doc is not None and doc["auth_method"] == "gss"
              and doc["encryption"] == "tls", f"{rc} {out} {err}")
        expect("ping gss, wrong krbsrvname -> 2", ["ping", gss_ci + " sslmode=disable gssencmode=disable krbsrvname=nosuch"], 2,
               env=krb, err_has=["not found in Kerberos database"])
        expect("ping gssencmode=require without a ticket -> 2", ["ping", gss_ci + " gssencmode=require"], 2,
               env=dict(krb, KRB5CCNAME="FILE:/nonexistent/ccache"),
               err_has=["GSSAPI encryption required but was impossible"])

# ---------------------------------------------------------------- examples
def example(name):
    return os.path.join(EXAMPLES, name)


pg18_env = {"PGHOST": "127.0.0.1", "PGPORT": PORT["pg18"], "PGDATABASE": "pgtls"}
for b in names:
    env = dict(pg18_env, PGSSLBACKEND=b)
    expect(f"example ssl_self_signed {b}", [f"{PKI}/ca.crt", f"{PKI}/client.crt", f"{PKI}/client.key"], 0,
           env=dict(env, PGUSER="certuser"), out_has=["connected as certuser", "client certificate sent", b],
           prog=example("ssl_self_signed"))
    expect(f"example quick_start {b}",
           [conninfo("pg18", extra=f"host=localhost sslmode=verify-full sslrootcert={PKI}/ca.crt")], 0, env=env,
           out_has=[" via " + b, "42 hello", "1=one", "2=two", "3=three", "SQLSTATE 22012", "pooled"],
           prog=example("quick_start"))
    verified = conninfo("pg18", extra=f"host=localhost sslmode=verify-full sslrootcert={PKI}/ca.crt")
    expect(f"example async_epoll {b}", [verified], 0, env=env, out_has=["20 answers on 4 connections, 0 failures"],
           prog=example("async_epoll"))
    if os.path.exists(example("async_asio")):  # built when standalone Asio is found
        expect(f"example async_asio {b}", [verified], 0, env=env,
               out_has=["answer 42", "sum 500500", "slow query cancelled after 200 ms", "still usable",
                        "8 of 8 coroutines answered"], prog=example("async_asio"))
    expect(f"example client_connect_end {b}", [conninfo("pg18", extra="sslmode=require")], 0, env=env,
           out_has=["ssl=on", "backend=" + b, "ended: open=no"], prog=example("client_connect_end"))
    expect(f"example pool_acquire_release {b}", [conninfo("pg18", extra="sslmode=require")], 0, env=env,
           out_has=["acquired connection 1", "released: idle=1 in_use=0", "pool ended: closed=yes open connections=0"],
           prog=example("pool_acquire_release"))
    uri = (f"postgresql://certuser@localhost:{PORT['pg18']}/pgtls?sslmode=verify-full&sslcert={PKI}/client.crt"
           f"&sslkey={PKI}/client.key&sslbackend={b}")
    out, _ = expect(f"example conninfo_with_ssl_object {b}", [uri, f"{PKI}/ca.crt"], 0,
                    out_has=["sslmode", "verify-full", "client certificate sent"], prog=example("conninfo_with_ssl_object"))
    lines = out.splitlines()
    check(f"example conninfo_with_ssl_object {b}: string and code both kept",
          any("sslrootcert" in l and "code" in l for l in lines) and any("sslcert" in l and "connection string" in l for l in lines),
          out)
    expect(f"example direct_negotiation {b}", ["127.0.0.1", PORT["pg18"]], 0,
           env=dict(env, PGUSER="scramuser", PGPASSWORD="scram-secret"),
           out_has=["from config: negotiation=direct alpn=postgresql", "from URI: negotiation=direct alpn=postgresql"],
           prog=example("direct_negotiation"))
    expect(f"example otlp_json_tracer {b}", [conninfo("pg18", extra="sslmode=require")], 0, env=env,
           out_has=['"name":"pgtls.connect"', '"name":"pgtls.connect.tls"', '"name":"pgtls.pipeline.query"',
                    '{"key":"db.response.status_code","value":{"stringValue":"22012"}}',
                    '{"key":"tls.backend","value":{"stringValue":"' + b + '"}}'],
           prog=example("otlp_json_tracer"))
    expect(f"example pool_metrics {b}", [conninfo("pg18", extra="sslmode=require"), "1"], 0, env=env,
           out_has=["pool: total=2 ", "final pool: total=0 ", "destroyed_pool_closed=2", "wait_ms{ le"],
           prog=example("pool_metrics"))
    expect(f"example channel_binding {b}", [conninfo("pg18")], 0, env=env,
           out_has=["client: auth=SCRAM-SHA-256-PLUS channel_binding=yes", "pool: auth=SCRAM-SHA-256-PLUS channel_binding=yes"],
           prog=example("channel_binding"))
expect("example direct_negotiation on PostgreSQL 15 fails (2)", ["127.0.0.1", PORT["pg15"]], 2,
       env=dict(pg18_env, PGUSER="scramuser", PGPASSWORD="scram-secret"), prog=example("direct_negotiation"))
expect("example channel_binding with md5 user fails (2)", [conninfo("pg18", "md5user")], 2, env=pg18_env,
       prog=example("channel_binding"))

print(f"\n{checks - len(failures)}/{checks} checks passed")
if failures:
    print("failed: " + ", ".join(failures))
    sys.exit(1)
