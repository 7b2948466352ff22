#pragma once
// Answers a client whose transaction block died with its server connection,
// as PostgreSQL answers a client in a failed transaction: every statement gets
// 25P02 (the first one the reason the transaction was lost, if the client has
// not heard it yet) until a ROLLBACK, COMMIT or PREPARE TRANSACTION ends the
// block, which succeeds with the tag ROLLBACK. No server is needed: during a
// failover there may be none. A COMMIT from a client that has not heard of the
// loss fails with it instead: committing must never look successful. Fed client messages one at a
// time. Pure: no sockets, no clocks.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "pgwarden/wire/codec.hpp"
#include "pgwarden/wire/sql_lex.hpp"

namespace pgw::wire {

inline constexpr const char* kInFailedTransaction = "25P02";
// PostgreSQL's error for a statement in a failed transaction block.
ErrorFields in_failed_transaction_error();

class AbortedTransaction {
 public:
  // `pending_error`: the loss, told with the next statement (the client has
  // not heard of it yet); nullopt when it already got its error.
  explicit AbortedTransaction(std::optional<ErrorFields> pending_error);

  // The query text of the client's named statement, for a Bind or Describe
  // of it; nullopt if the client never prepared that name.
  using StatementText = std::function<std::optional<std::string>(std::string_view name)>;

  struct Answer {
    std::string to_client;      // the responses due now
    bool accepted = false;      // a Parse this answered with ParseComplete
    bool finished = false;      // the block ended: the client is out of the transaction
    bool skip_to_sync = false;  // finished with an error in an extended batch
    bool malformed = false;     // a message that could not be read (protocol violation)
  };
  // One client message (anything but Terminate, which the caller handles).
  Answer feed(const Frame& f, const StatementText& statement_text);

  void fail(std::string& out);
  // Ends the block; false when that is an error (a COMMIT of untold loss).
  bool end_block(TxExit exit, Answer& a);
  std::optional<ErrorFields> pending_error_;
  bool skipping_ = false;  // an error in this extended batch: skip to Sync
  // The unnamed statement's text as this client last parsed it here, and the
  // portals bound to a transaction exit.
  std::optional<std::string> unnamed_text_;
  std::map<std::string, TxExit, std::less<>> exit_portals_;
};

}  // namespace pgw::wire
