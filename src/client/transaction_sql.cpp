#include "client/transaction_sql.hpp"

#include "pgtls/error.hpp"

namespace pgtls::client {

std::string begin_statement(const TransactionOptions& o) {
    std::string sql = "BEGIN";
    switch (o.isolation) {
        case TransactionOptions::Isolation::server_default: break;
        case TransactionOptions::Isolation::read_committed: sql += " ISOLATION LEVEL READ COMMITTED"; break;
        case TransactionOptions::Isolation::repeatable_read: sql += " ISOLATION LEVEL REPEATABLE READ"; break;
        case TransactionOptions::Isolation::serializable: sql += " ISOLATION LEVEL SERIALIZABLE"; break;
    }
    if (o.read_only) sql += " READ ONLY";
    if (o.deferrable) sql += " DEFERRABLE";
    return sql;
}

void refuse_nested(TransactionStatus status) {
    if (status == TransactionStatus::in_transaction || status == TransactionStatus::failed)
        throw Error(ErrorKind::usage,
                    "a transaction is already open on this client: transactions do not nest; use savepoints "
                    "(Transaction::savepoint, rollback_to, release) inside the open one");
}

void check_committed(const Result& commit) {
    if (commit.command_tag() == "ROLLBACK")
        throw Error(ErrorKind::server, "COMMIT failed: the transaction was aborted by an earlier error and rolled back");
}

std::string savepoint_statement(std::string_view verb, std::string_view name) {
    std::string q(verb);
    q += " \"";
    for (char c : name) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + '"';
}

}  // namespace pgtls::client
