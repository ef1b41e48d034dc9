#!/usr/bin/env python3
"""`pgtls --format csv` as an export tool (issue 22), against the servers of
scripts/test-servers.sh: rows streamed as they arrive with the bytes of psql --csv, rows
written before a mid-stream error, -o FILE, and the progress line (only on a terminal).

usage: export_test.py BUILD_DIR
A missing env file FAILS (never skips): run scripts/test-servers.sh start."""
import json
import os
import pty
import shutil
import subprocess
import sys

BUILD = sys.argv[1]
PGTLS = os.path.join(BUILD, "tools", "pgtls")
ENV_FILE = os.environ.get("PGTLS_TEST_ENV") or os.path.join(os.environ.get("PGTLS_TEST_DIR", "/tmp/pgtls-test"), "env")
try:
    with open(ENV_FILE) as f:
        E = dict(l.strip().split("=", 1) for l in f if "=" in l)
except OSError:
    print(f"FAIL: test servers not running ({ENV_FILE} missing): run scripts/test-servers.sh start")
    sys.exit(1)

BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
BASE_ENV["HOME"] = "/nonexistent-pgtls-cli-test"
CI = f"host=127.0.0.1 port={E['PGTLS_PG15_PORT']} dbname=pgtls user=scramuser password=scram-secret sslmode=require"
failures = []
checks = 0


def check(name, cond, detail=""):
    global checks
    checks += 1
    print(f"ok   {name}" if cond else f"FAIL {name}\n     {detail}")
    if not cond:
        failures.append(name)


def run(args, stdin=None, **kw):
    """Runs pgtls; returns (exit, stdout bytes, stderr bytes)."""
    kw.setdefault("timeout", 120)
    p = subprocess.run([PGTLS] + args, input=stdin, capture_output=True, env=BASE_ENV, **kw)
    return p.returncode, p.stdout, p.stderr


# Every kind of value csv must quote or keep apart: NULL vs '', ',', '"', CR, LF, non-ASCII,
# a column name that needs quotes; then a zero-row result set (header only), a statement
# without rows (nothing), and a -c holding two statements (the buffered path, same bytes).
VALUES = ("select g as n, case when g = 2 then NULL else 'v' || g end as \"nul,l\", '' as empty, "
          "'a,b' as comma, 'say \"hi\"' as quote, E'l1\\nl2\\r\\n' as lines, 'café ☃ 😀' as \"ü\", "
          "1.50::numeric as num, true as b from generate_series(1,3) g")
EXPECTED_VALUES = ('n,"nul,l",empty,comma,quote,lines,ü,num,b\n'
                   '1,v1,"","a,b","say ""hi""","l1\nl2\r\n",café ☃ 😀,1.50,t\n'
                   '2,,"","a,b","say ""hi""","l1\nl2\r\n",café ☃ 😀,1.50,t\n'
                   '3,v3,"","a,b","say ""hi""","l1\nl2\r\n",café ☃ 😀,1.50,t\n').encode()
rc, out, err = run(["--format", "csv", "-c", VALUES, "-c", "select 1 as none where false",
                    "-c", "create temp table t(a int)", "-c", "insert into t values (7) returning a, 'x' as y",
                    "-c", "select 8 as p; select 9 as q", CI])
check("csv stream: known bytes for every kind of value, zero-row and several statements",
      rc == 0 and err == b"" and out == EXPECTED_VALUES + b"\nnone\n\na,y\n7,x\n\np\n8\n\nq\n9\n", f"{rc} {out!r} {err!r}")
rc, out, err = run(["--format", "csv", CI], stdin=(VALUES + ";\ncreate temp table t(a int);\n"
                                                   "select 1 as none where false;\nselect 'z' as last;\n").encode())
check("csv stream: statements from stdin", rc == 0 and out == EXPECTED_VALUES + b"\nnone\n\nlast\nz\n", f"{rc} {out!r} {err!r}")

# The same statement streamed (alone) and buffered (in a -c with a second statement): same bytes.
for fmt in ("csv", "json"):
    rc1, streamed, err1 = run(["--format", fmt, "-c", VALUES, CI])
    rc2, buffered, err2 = run(["--format", fmt, "-c", VALUES + "; select 1 as tail", CI])
    check(f"{fmt}: streamed bytes equal the buffered bytes", rc1 == rc2 == 0 and len(streamed) > 100
          and buffered.startswith(streamed) and buffered != streamed, f"{streamed!r}\n     {buffered!r}")

EXPECTED_JSON = ('{"columns":["n","nul,l","empty","comma","quote","lines","ü","num","b"],"rows":['
                 + ",".join('{"n":%d,"nul,l":%s,"empty":"","comma":"a,b","quote":"say \\"hi\\"","lines":"l1\\nl2\\r\\n",'
                            '"ü":"café ☃ 😀","num":1.50,"b":true}' % (g, "null" if g == 2 else f'"v{g}"') for g in (1, 2, 3))
                 + '],"command":"SELECT 3"}\n').encode()
rc, out, err = run(["--format", "json", "-c", VALUES, "-c", "select 1 as none where false",
                    "-c", "create temp table t(a int)", CI])
check("json stream: known bytes, zero-row statement, statement without rows",
      rc == 0 and out == EXPECTED_JSON + b'{"columns":["none"],"rows":[],"command":"SELECT 0"}\n'
      b'{"columns":[],"rows":[],"command":"CREATE TABLE"}\n', f"{rc} {out!r} {err!r}")
rc, out, err = run(["--format", "json", "-c", "select g from generate_series(1,5000) g", CI + " max_result_rows=100"])
check("json stream: rows are not held (5000 rows with max_result_rows=100)",
      rc == 0 and json.loads(out)["rows"] == [{"g": g} for g in range(1, 5001)], f"{rc} {out[-200:]!r} {err!r}")
rc, out, err = run(["--format", "json", "-c", "select g, 10 / (5 - g) as q from generate_series(1,10) g", CI])
check("json stream: a mid-stream error closes the line with an error member, exit 1",
      rc == 1 and json.loads(out) == {"columns": ["g", "q"], "rows": [{"g": 1, "q": 2}, {"g": 2, "q": 3}, {"g": 3, "q": 5},
                                                                      {"g": 4, "q": 10}],
                                      "error": {"sqlstate": "22012", "message": "division by zero"}}
      and b"division by zero" in err, f"{rc} {out!r} {err!r}")

# psql --csv writes '' unquoted (like NULL); pgtls quotes it to keep the two apart. Otherwise
# the bytes are psql's.
if shutil.which("psql"):
    env = dict(BASE_ENV, PGPASSWORD="scram-secret", PGSSLMODE="require")
    no_empty = VALUES.replace("'' as empty, ", "")
    p = subprocess.run(["psql", "-X", "--csv", "-h", "127.0.0.1", "-p", E["PGTLS_PG15_PORT"], "-U", "scramuser",
                        "-d", "pgtls", "-c", no_empty], capture_output=True, env=env, timeout=60)
    rc, out, err = run(["--format", "csv", "-c", no_empty, CI])
    check("csv stream: the same bytes as psql --csv (no empty strings)",
          p.returncode == 0 and rc == 0 and out == p.stdout == EXPECTED_VALUES.replace(b',"",', b",").replace(b",empty,", b","),
          f"{p.returncode} {p.stdout!r} {p.stderr!r}\n     pgtls: {out!r}")
else:
    print("skip csv stream vs psql --csv: psql not installed")

# A buffered result over max_result_rows is an error; streamed rows are not held.
rc, out, err = run(["--format", "csv", "-c", "select g from generate_series(1,5000) g", CI + " max_result_rows=100"])
check("csv stream: rows are not held (5000 rows with max_result_rows=100)",
      rc == 0 and out == b"g\n" + b"".join(b"%d\n" % g for g in range(1, 5001)), f"{rc} {out[-200:]!r} {err!r}")

for sql in ("with x as (select g from generate_series(1,500) g) select * from x",
            "(select g from generate_series(1,500) g)", "  /* c */ VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), "
            + ", ".join(f"({g})" for g in range(11, 501))):
    rc, out, err = run(["--format", "csv", "-c", sql, CI + " max_result_rows=100"])
    check(f"csv stream: {sql.split()[0]}... is streamed too", rc == 0 and out.count(b"\n") == 501, f"{rc} {err!r}")

# The server sends rows 1-4, then the error: they are written, whole lines, then the error.
rc, out, err = run(["--format", "csv", "-c", "select g, 10 / (5 - g) as q from generate_series(1,10) g", CI])
check("csv stream: rows before a mid-stream error are written, exit 1, error on stderr",
      rc == 1 and out == b"g,q\n1,2\n2,3\n3,5\n4,10\n" and b"division by zero" in err, f"{rc} {out!r} {err!r}")
rc, out, err = run(["--format", "csv", "-c", "select 1 as a", "-c", "select 1/0", "-c", "select 'unreached'", CI])
check("csv stream: an error stops later statements", rc == 1 and out == b"a\n1\n" and b"division by zero" in err,
      f"{rc} {out!r} {err!r}")

# COPY is not streamed: the extended protocol path would wait forever on COPY FROM STDIN.
try:
    rc, out, err = run(["--format", "csv", "-c", "create temp table t(a int)", "-c", "copy t from stdin", CI], timeout=30)
    check("csv: COPY FROM STDIN fails at once as before (exit 1), no hang",
          rc == 1 and b"COPY FROM STDIN is not supported" in err, f"{rc} {out!r} {err!r}")
except subprocess.TimeoutExpired:
    check("csv: COPY FROM STDIN fails at once as before (exit 1), no hang", False, "timed out after 30 s")

# -o FILE
path = os.path.join(os.environ.get("PGTLS_TEST_DIR", "/tmp"), "export-test.csv")
with open(path, "w") as f:
    f.write("old content that is longer than the export\n" * 10)
rc, out, err = run(["--format", "csv", "-o", path, "-c", "select 1 as a, 'x' as b", CI])
with open(path, "rb") as f:
    written = f.read()
check("-o FILE: truncated and written, nothing on stdout", rc == 0 and out == b"" and written == b"a,b\n1,x\n",
      f"{rc} {written!r} {out!r} {err!r}")
rc, out, err = run(["--output=" + path, "-c", "select 1 as n", CI])
with open(path, "rb") as f:
    written = f.read()
check("--output=FILE with the table format", rc == 0 and written == b" n \n---\n 1\n(1 row)\n\n", f"{rc} {written!r}")
os.unlink(path)
rc, out, err = run(["--format", "csv", "-o", "/nonexistent-dir/x.csv", "-c", "select 1", CI])
check("-o FILE that cannot be opened: exit 3, clear message",
      rc == 3 and out == b"" and b"cannot open output file '/nonexistent-dir/x.csv': No such file or directory" in err,
      f"{rc} {out!r} {err!r}")
if os.path.exists("/dev/full"):
    rc, out, err = run(["--format", "csv", "-o", "/dev/full", "-c", "select 1", CI])
    check("a failing write: exit 2, the output named", rc == 2 and b"cannot write to '/dev/full'" in err, f"{rc} {err!r}")

# The progress line: a run of at least 1.2 s (the server sleeps), so one would be shown.
SLOW = "select g from generate_series(1,40000) g where g % 10000 <> 0 or pg_sleep(0.3) is not null"
rc, out, err = run(["--format", "csv", "-c", SLOW, CI])
check("progress: nothing on a stderr that is not a terminal", rc == 0 and err == b"" and out.count(b"\n") == 40001,
      f"{rc} {err!r}")

def run_with_tty_stderr(args, stdin=None):
    """Runs pgtls with stderr on a pseudo-terminal; returns (exit, stdout bytes, terminal bytes)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([PGTLS] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave, env=BASE_ENV)
    os.close(slave)
    out, _ = p.communicate(stdin, timeout=120)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        tty += chunk
    os.close(master)
    return p.returncode, out, tty


rc, out, tty = run_with_tty_stderr(["--format", "csv", "-c", SLOW, CI])
check("progress: shown on a terminal stderr (rows, MiB, rate), erased at the end",
      rc == 0 and b" rows, " in tty and b" MiB, " in tty and b" rows/s" in tty and tty.endswith(b"\r\x1b[K")
      and out.count(b"\n") == 40001, f"{rc} {tty!r}")
# Notices at rows 20000, 40000, ... each after 0.4 s: from the third on, a progress line is up
# when one arrives, and must be erased first so the notice starts its own line.
NOTICES = ("create function pg_temp.n(g int) returns int language plpgsql as $$begin if g % 20000 = 0 then "
           "raise notice 'at %', g; perform pg_sleep(0.4); end if; return g; end$$;\n"
           "select pg_temp.n(g) from generate_series(1,140000) g;\n")
rc, out, tty = run_with_tty_stderr(["--format", "csv", CI], NOTICES.encode())
starts = [tty[max(0, k - 3):k] for k in range(len(tty)) if tty.startswith(b"NOTICE:", k)]
check("progress: erased before a notice, which starts its own line",
      rc == 0 and len(starts) == 7 and b" rows/s" in tty
      and all(s == b"" or s.endswith(b"\n") or s.endswith(b"\x1b[K") for s in starts), f"{rc} {tty!r}")

print(f"\n{checks - len(failures)}/{checks} checks passed")
if failures:
    print("failed: " + ", ".join(failures))
    sys.exit(1)
