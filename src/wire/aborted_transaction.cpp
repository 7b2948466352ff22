#include "pgwarden/wire/aborted_transaction.hpp"

#include "pgwarden/wire/sql_lex.hpp"

namespace pgw::wire {

namespace {
void no_data(std::string& out) {
  out += 'n';
  put_u32(out, 4);
}

void empty_parameter_description(std::string& out) {
  out += 't';
  put_u32(out, 6);
  put_u16(out, 0);
}

void bind_complete(std::string& out) {
  out += '2';
  put_u32(out, 4);
}

void empty_query_response(std::string& out) {
  out += 'I';
  put_u32(out, 4);
}

bool is_exit(std::string_view sql) {
  return classify_tx_exit(sql) != TxExit::other;
}
}  // namespace

ErrorFields in_failed_transaction_error() {
  return {"ERROR",
          kInFailedTransaction,
          "current transaction is aborted, commands ignored until end of transaction block",
          {},
          {}};
}

AbortedTransaction::AbortedTransaction(std::optional<ErrorFields> pending_error)
    : pending_error_(std::move(pending_error)) {}

void AbortedTransaction::fail(std::string& out) {
  if (pending_error_) {
    error_response(out, *pending_error_);
    pending_error_.reset();
    return;
  }
  error_response(out, in_failed_transaction_error());
}

bool AbortedTransaction::end_block(TxExit exit, Answer& a) {
  a.finished = true;
  if (exit == TxExit::commit && pending_error_) {
    // The client asks to commit work it does not know is lost: it must hear
    // that it is (a COMMIT that fails ends the block, as on PostgreSQL).
    error_response(a.to_client, *pending_error_);
    pending_error_.reset();
    return false;
  }
  command_complete(a.to_client, "ROLLBACK");
  return true;
}

AbortedTransaction::Answer AbortedTransaction::feed(const Frame& f,
                                                    const StatementText& statement_text) {
  Answer a;
  const char t = f.type;
  if (skipping_ && t != 'S') return a;  // PostgreSQL skips to Sync after an error
  switch (t) {
    case 'Q': {
      const std::string_view sql = f.body.substr(0, f.body.find('\0'));
      if (is_empty_query(sql)) {
        empty_query_response(a.to_client);
      } else if (const TxExit exit = classify_tx_exit(sql); exit != TxExit::other) {
        end_block(exit, a);
        ready_for_query(a.to_client, 'I');
        return a;
      } else {
        fail(a.to_client);
      }
      ready_for_query(a.to_client, 'E');
      return a;
    }
    case 'S':
      skipping_ = false;
      exit_portals_.clear();
      ready_for_query(a.to_client, 'E');
      return a;
    case 'P': {
      ParseView pv;
      if (!parse_parse(f.body, pv)) {
        a.malformed = true;
        return a;
      }
      if (!is_exit(pv.query)) break;
      if (pv.name.empty()) unnamed_text_ = std::string(pv.query);
      parse_complete(a.to_client);
      a.accepted = true;
      return a;
    }
    case 'B': {
      BindView bv;
      if (!parse_bind(f.body, bv)) {
        a.malformed = true;
        return a;
      }
      const std::optional<std::string> text =
          bv.statement.empty() ? unnamed_text_ : statement_text(bv.statement);
      const TxExit exit = text ? classify_tx_exit(*text) : TxExit::other;
      if (exit == TxExit::other) break;
      exit_portals_[std::string(bv.portal)] = exit;
      bind_complete(a.to_client);
      return a;
    }
    case 'D': {
      char kind = 0;
      std::string_view name;
      if (!parse_target(f.body, kind, name)) {
        a.malformed = true;
        return a;
      }
      if (kind == 'P' && exit_portals_.count(name)) {
        no_data(a.to_client);
        return a;
      }
      if (kind == 'S') {
        const std::optional<std::string> text = name.empty() ? unnamed_text_ : statement_text(name);
        if (text && is_exit(*text)) {
          empty_parameter_description(a.to_client);
          no_data(a.to_client);
          return a;
        }
      }
      break;
    }
    case 'E': {
      const std::string_view portal = f.body.substr(0, f.body.find('\0'));
      if (f.body.find('\0') == std::string_view::npos) {
        a.malformed = true;
        return a;
      }
      auto it = exit_portals_.find(portal);
      if (it == exit_portals_.end()) break;
      // The block ends here; what follows in the batch runs outside it
      // (after an error, nothing does: PostgreSQL skips to Sync).
      a.skip_to_sync = !end_block(it->second, a);
      return a;
    }
    case 'C':
      close_complete(a.to_client);
      return a;
    case 'F':
      fail(a.to_client);
      ready_for_query(a.to_client, 'E');
      return a;
    case 'H':  // Flush: nothing is pending
    case 'd':  // COPY messages outside COPY are ignored, as PostgreSQL does
    case 'c':
    case 'f':
      return a;
    default:
      a.malformed = true;
      return a;
  }
  // A statement that does not end the block, in an extended batch.
  fail(a.to_client);
  skipping_ = true;
  return a;
}

}  // namespace pgw::wire
