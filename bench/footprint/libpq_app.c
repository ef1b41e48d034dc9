/* The footprint comparison's libpq program: connect (verify-full + SCRAM), one query with a
   parameter, as tests/consumers/app.cpp does with pgtls. */
#include <libpq-fe.h>
#include <stdio.h>
int main(int argc, char** argv) {
    PGconn* c = PQconnectdb(argc > 1 ? argv[1] : "");
    if (PQstatus(c) != CONNECTION_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); return 1; }
    const char* v[1] = {"41"};
    PGresult* r = PQexecParams(c, "SELECT $1::int + 1", 1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); return 1; }
    printf("answer=%s\n", PQgetvalue(r, 0, 0));
    PQclear(r); PQfinish(c); return 0;
}
