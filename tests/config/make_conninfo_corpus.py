#!/usr/bin/env python3
"""Writes conninfo_corpus.txt: hand-picked edge cases of both libpq connection-string forms
plus every keyword in both forms. Run from this directory; the output is committed."""

KEYWORDS = [
    "service", "user", "password", "passfile", "channel_binding", "connect_timeout", "dbname",
    "host", "hostaddr", "port", "client_encoding", "options", "application_name",
    "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "sslmode", "sslnegotiation", "sslcompression",
    "sslcert", "sslkey", "sslcertmode", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir",
    "sslsni", "requirepeer", "require_auth", "min_protocol_version", "max_protocol_version",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "gssencmode", "krbsrvname", "gsslib",
    "gssdelegation", "replication", "target_session_attrs", "load_balance_hosts",
    "scram_client_key", "scram_server_key", "oauth_issuer", "oauth_client_id",
    "oauth_client_secret", "oauth_scope", "sslkeylogfile", "sslbackend",
]

VALUES = {
    "channel_binding": ["require", "bogus"], "connect_timeout": ["10", "-1", "abc"],
    "port": ["5433", "abc", "5432,5433"], "sslmode": ["verify-full", "no-verify", "verify"],
    "sslnegotiation": ["direct", "postgres"], "sslrootcert": ["system", "/tmp/ca.crt"],
    "target_session_attrs": ["read-write", "prefer-standby"], "load_balance_hosts": ["random"],
    "require_auth": ["scram-sha-256", "!password,!md5"], "gssencmode": ["require", "disable"],
    "ssl_min_protocol_version": ["TLSv1.3", "tlsv1.2"], "sslbackend": ["gnutls", "mbedtls"],
    "keepalives": ["0"], "sslsni": ["0"], "replication": ["database"],
    "min_protocol_version": ["3.2"], "max_protocol_version": ["latest"],
}

HAND = r"""
# --- key=value: basics and whitespace
esc:
esc:   
esc:\t\n
host=localhost
host = localhost
host =localhost
host= localhost
host=localhost port=5432 dbname=postgres user=alice password=secret
  host=localhost   port=5432  
esc:host=a\tport=5
esc:\nhost=a\n
esc:host\t=\ta
esc:host=a\vport=1
esc:host=a\fport=1
esc:host=a\rport=1
esc:host=a\xa0port=1
esc:host=\x01
esc:password=\x7f
host=a host=b
host=a port=1 port=2 host=c
dbname=x dbname=
host= port=5
host=
host=   
host
host port=5
=x
 =x
==
host==x
host=a=b
host=a'b
host=a''b
host='a''b'
host='a' port=5
host='a'port=5
host='a'b
host=''
host='' port=''
password='a b c'
password='it\'s'
password='back\\slash'
password='tab\	in'
password=a\ b
password=a\'b
password=\\
password=x\
password='x\
password='unterminated
password='
password='ends with quote'
password='\''
password=''''
options='-c search_path=app,public -c statement_timeout=5s'
options=-c\ search_path=app
application_name=ünïcode
user=ünïcode password=pässwörd
password='pässwörd'
application_name=日本語
host=/var/run/postgresql
host=@abstract
host=/tmp,localhost,127.0.0.1
host=a,b,c port=1,2,3
host=a,b,c port=1,2
host=a,,c
host=, port=,
hostaddr=127.0.0.1
hostaddr=127.0.0.1,::1 host=a,b
hostaddr=::1 host=localhost sslmode=verify-full
hostaddr=not-an-address
host=[::1]
# --- key=value: keyword spelling
foo=bar
Host=localhost
HOST=localhost
ssl=true
ssl=1
sslmode=require requiressl=1
requiressl=1
requiressl=0
requiressl=
requiressl=yes
requiressl=1 sslmode=disable
tty=
authtype=x
sslmod=require
ssl_mode=require
database=postgres
username=alice
pass=x
servicefile=x
gssdelegation=1
sslcertmode=require
require_auth=none
load_balance_hosts=random
sslnegotiation=direct sslmode=require
sslkeylogfile=/tmp/keys
sslbackend=openssl
sslbackend=openssl host=x
host=x sslbackend=gnutls
oauth_issuer=https://example.org oauth_client_id=x
scram_client_key=abc
min_protocol_version=3.2 max_protocol_version=latest
# --- key=value: values the parser passes through (resolve() judges them)
sslmode=verify
port=abc
connect_timeout=-1
sslmode=VERIFY-FULL
target_session_attrs=readwrite
keepalives=yes
# --- URIs: structure
postgresql://
postgres://
postgresql:///
postgres:///
postgresql://host
postgresql://host/
postgresql://host:5432
postgresql://host:5432/
postgresql://host:5432/db
postgres://host:5432/db
postgresql://localhost/postgres
postgresql:///db
postgresql:///db?host=/tmp
postgresql:///db?host=%2Ftmp
postgresql://%2Fvar%2Frun%2Fpostgresql/db
postgresql://%2Fvar%2Frun%2Fpostgresql:5433/db
postgresql://:5433
postgresql://:5433/db
postgresql://h:
postgresql://h:/db
postgresql://h:port/db
postgresql://h:5432:5433/db
postgresql://h/db/extra
postgresql://h/db#fragment
postgresql://h//db
postgresql://h/db?
postgresql://h?
postgresql://?
postgresql://h/?dbname=x
postgresql://h/db?dbname=other
postgresql://h/db?host=other&port=1
postgresql://h:1/db?port=2
# --- URIs: credentials
postgresql://user@host
postgresql://user@host/db
postgresql://user:pw@host/db
postgresql://user:@host
postgresql://:pw@host
postgresql://@host
postgresql://@
postgresql://:@
postgresql://user:pa:ss@host
postgresql://u@h@x/db
postgresql://us/er@host
postgresql://host?user=a@b
postgresql://us%40er:p%3Aw@host/d%20b
postgresql://%C3%BCn%C3%AFcode:p%C3%A4ssw%C3%B6rd@localhost/postgres
postgresql://user%:pw@host
postgresql://user:pw%2@host
postgresql://user:pw%00@host
postgresql://user@host?user=other
postgresql://user:pw@host?password=other
# --- URIs: IPv6
postgresql://[::1]
postgresql://[::1]/
postgresql://[::1]:5432
postgresql://[::1]:5432/db
postgresql://[::1]:/db
postgresql://[::1]?sslmode=disable
postgresql://[::1],[::2]:5/db
postgresql://[::1]:1,[::2]:2/db
postgresql://[2001:db8::1]:5432/db
postgresql://[fe80::1%25eth0]/db
postgresql://[fe80::1%eth0]/db
postgresql://[::ffff:127.0.0.1]/db
postgresql://[::1
postgresql://[
postgresql://[]
postgresql://[]:5432
postgresql://[::1]x
postgresql://[::1]x/db
postgresql://[::1]]
postgresql://user@[::1]:5432/db
postgresql://user:pw@[::1]/db
postgresql://[::1],host2
postgresql://host1,[::1]
postgresql://h,[::1
# --- URIs: multiple hosts
postgresql://a:1,b:2/db
postgresql://a:1,b:2,c:3/db
postgresql://a,b/db
postgresql://a,b,c
postgresql://a:1,b/db
postgresql://a,b:2/db
postgresql://,/db
postgresql://,
postgresql://a,
postgresql://,b
postgresql://a,,b
postgresql://a:1,:2/db
postgresql://:1,:2/db
postgresql://a%2Cb/db
postgresql://a:1%2C2/db
postgresql://a,b/db?port=1,2
postgresql://a,b/db?target_session_attrs=read-write
postgresql://a,b/db?target_session_attrs=primary&load_balance_hosts=random
postgres://a:5432,b:5433/db?target_session_attrs=standby
# --- URIs: query parameters
postgresql://host?sslmode=require
postgresql://host/db?sslmode=require&application_name=x
postgresql://host/db?&
postgresql://host/db?&&
postgresql://host/db?a
postgresql://host/db?a&b=c
postgresql://host/db?sslmode
postgresql://host/db?sslmode=
postgresql://host/db?a=b=c
postgresql://host/db?sslmode=require=x
postgresql://host/db?=x
postgresql://host/db?=
postgresql://host/db?x=1&&y=2
postgresql://host/db?sslmode=require&
postgresql://host/db?sslmode=require&&
postgresql://host/db?ssl=true
postgresql://host/db?ssl=false
postgresql://host/db?ssl=1
postgresql://host/db?ssl=
postgresql://host/db?%73sl=true
postgresql://host/db?ssl=%74rue
postgresql://host/db?requiressl=1
postgresql://host/db?requiressl=0
postgresql://host/db?requiressl=true
postgresql://host/db?foo=bar
postgresql://host/db?Host=x
postgresql://host/db?application_name=%41%42
postgresql://host/db?%61pplication_name=x
postgresql://host/db?application_name=a+b
postgresql://host/db?application_name=a%20b
postgresql://host/db?application_name=%
postgresql://host/db?application_name=%4
postgresql://host/db?application_name=%4g
postgresql://host/db?application_name=%00
postgresql://host/db?%=x
postgresql://host/db?%00=x
postgresql://host/db?options=-c%20search_path%3Dapp
postgresql://host/db?options=-c search_path=app
postgresql://host/db?application_name=x?y
postgresql://host/db?application_name=x#y
postgresql://host/db?sslmode=require&sslmode=disable
postgresql://host/db?sslrootcert=system
postgresql://host/db?sslrootcert=%2Fetc%2Fssl%2Fca.pem&sslmode=verify-full
postgresql://host/db?sslcert=/tmp/c.crt&sslkey=/tmp/c.key
postgresql://host/db?sslnegotiation=direct
postgresql://host/db?sslnegotiation=direct&sslmode=require
postgresql://host/db?sslbackend=gnutls
postgresql://host/db?sslbackend=openssl&sslmode=verify-full
postgresql://host/db?sslkeylogfile=/tmp/k
postgresql://host/db?require_auth=scram-sha-256
postgresql://host/db?sslcertmode=disable
postgresql://host/db?load_balance_hosts=random
postgresql://host/db?gssencmode=disable
postgresql://host/db?service=foo
postgresql://host/db?keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3
postgresql://host/db?tcp_user_timeout=1000&connect_timeout=5
postgresql://host/db?channel_binding=require
postgresql://host/db?client_encoding=UTF8
postgresql://host/db?fallback_application_name=psql
# --- URIs: prefixes and odd starts
POSTGRESQL://h
Postgresql://h
postgresql:/h
postgresql:h
postgresql//h
postgres:/h
postgresq://h
postgresql:
postgres:
 postgresql://h
postgresql://h db
esc:postgresql://h/db\n
esc:postgresql://h/db\tx
esc:postgresql://h\t/db
postgresql://h/db?x=y z
postgresql://h%20x/db
postgresql://h x/db
postgresql://ünïcode.example/db
postgresql://h/日本語
postgresql://h/%E6%97%A5
postgresql://h/%
postgresql://h/%2
postgresql://h/%zz
postgresql://h/%00
postgresql://h/%2F
postgresql://h/a%2Fb
postgresql://h/%3F?x=1
postgresql://h/db%3Fsslmode=require
postgresql://h:%35%34%33%32/db
postgresql://h:%/db
postgresql://u:p@h:5432/d?sslmode=verify-full&sslrootcert=system&application_name=app
postgres://u:p@h:5432/d?sslmode=verify-full&sslrootcert=system&application_name=app
# --- URIs: spaces (libpq 17+ trims them around components, rejects them inside)
postgresql://host?  user = uri-user & port  = 12345 
postgresql://host?  user user  =  uri  & port = 12345 12 
postgresql://host?  user  =  uri-user  & port = 12345 12 
postgresql:// host /db
postgresql://host/ db 
postgresql://host/d b
postgresql:// user :pw@host
postgresql://user: pw @host
postgresql://user:p w@host
postgresql://a , b/db
postgresql://a:1 ,b:2/db
postgresql://h/db?application_name=%20x%20
postgresql://h/db?application_name= %20 
postgresql://h/db?application_name=%zz x
postgresql://h/db?application_name=x %zz
postgresql://h/db?application_name=%00 x
postgresql://h/db?application_name= 
postgresql://h/db? =x
postgresql://h/db?ssl = true
esc:postgresql://h/db?application_name=\tx\t
"""

def main():
    lines = [l for l in HAND.strip("\n").split("\n")]
    lines.append("# --- every keyword, both forms")
    for k in KEYWORDS:
        lines.append(f"{k}=x")
        lines.append(f"postgresql://h/db?{k}=x")
        for v in VALUES.get(k, []):
            lines.append(f"{k}={v}")
            lines.append(f"postgresql://h/db?{k}={v}")
        lines.append(f"{k}='quoted value'")
        lines.append(f"postgresql://h/db?{k}=")
    with open("conninfo_corpus.txt", "w", encoding="utf-8") as f:
        f.write("# Generated by make_conninfo_corpus.py; see libpq_differential_test.cpp for the format.\n")
        for l in lines:
            f.write(l + "\n")

main()
