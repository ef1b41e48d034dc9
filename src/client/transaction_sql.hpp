// What both drivers' transactions say and check (Transaction, AsyncTransaction): the BEGIN of
// a TransactionOptions, the refusal to nest, COMMIT's outcome, and savepoint statements.
#pragma once

#include <string>
#include <string_view>

#include "pgtls/result.hpp"
#include "pgtls/session.hpp"

namespace pgtls::client {

// "BEGIN", then ISOLATION LEVEL ..., READ ONLY, DEFERRABLE as `options` ask.
std::string begin_statement(const TransactionOptions& options);
// Error(usage) when `status` says a transaction is already open: transactions do not nest.
void refuse_nested(TransactionStatus status);
// COMMIT's result: Error(server) when the server rolled back instead (the transaction had
// failed, and PostgreSQL answers COMMIT with the tag ROLLBACK).
void check_committed(const Result& commit);
// "SAVEPOINT name", "ROLLBACK TO SAVEPOINT name", "RELEASE SAVEPOINT name" (`verb` first),
// the name quoted as an identifier.
std::string savepoint_statement(std::string_view verb, std::string_view name);

}  // namespace pgtls::client
