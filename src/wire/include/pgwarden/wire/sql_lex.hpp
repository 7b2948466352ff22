#pragma once
// The few lexical steps pgwarden needs to tell what a statement starts with,
// without parsing SQL: blanks and comments are skipped, words are read
// lower-cased. Shared by the session-effects scan and the classification of
// transaction-ending statements.
#include <optional>
#include <string>
#include <string_view>

namespace pgw::wire {

// Skips whitespace and comments (-- to end of line, /* */) from `i`.
size_t skip_blank(std::string_view s, size_t i);
// The next word (letters, digits, _) from `i`, lower-cased; advances `i`.
std::string next_word(std::string_view s, size_t& i);

// What a single statement does to an open transaction block, as PostgreSQL's
// IsTransactionExitStmt sees it. Only a whole statement counts: "ROLLBACK;
// SELECT 1" is `other`.
enum class TxExit {
  other,     // anything else (including ROLLBACK TO SAVEPOINT, ... AND CHAIN)
  rollback,  // ROLLBACK / ABORT [WORK | TRANSACTION] [AND NO CHAIN]
  commit,    // COMMIT / END [WORK | TRANSACTION] [AND NO CHAIN]; PREPARE TRANSACTION 'x'
};
TxExit classify_tx_exit(std::string_view sql);
// The statement name of a lone `DEALLOCATE [PREPARE] name` (unquoted names
// lower-cased, quoted ones as written); nullopt for DEALLOCATE ALL and
// anything else.
std::optional<std::string> deallocated_statement(std::string_view sql);
// Only blanks and comments: PostgreSQL answers EmptyQueryResponse.
bool is_empty_query(std::string_view sql);

}  // namespace pgw::wire
