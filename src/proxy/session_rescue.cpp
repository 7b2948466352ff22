// A server link lost under a client (failover, pg_terminate_backend, a
// backend crash, a network cut): the client keeps its connection (in session
// mode too: its settings and prepared statements follow it to a new link). What the link owed it
// becomes errors it can retry on (the link state machine decides which, LinkState::lost), and a
// transaction block that died with the link is answered by pgwarden (wire::AbortedTransaction)
// until the client ends it. A client holding state no other link can be given (pinned: LISTEN, a
// temporary table...; settings not yet read back) is told with a FATAL instead, as PostgreSQL would
// tell it.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "pgwarden/pool/last_words.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/session.hpp"

namespace pgw::proxy {

namespace {
// SQLSTATEs for what a lost link did to the client's work (docs/failover.md).
constexpr const char* kTransactionResolutionUnknown = "08007";

// A server that says it is shutting down, crashed or is not accepting
// connections has not judged this client: its work can be failed and retried.
bool server_going_away(const std::string& code) {
  return code == sqlstate::kAdminShutdown || code == sqlstate::kCrashShutdown ||
         code == sqlstate::kCannotConnectNow;
}
}  // namespace

char Session::client_tx_status() const {
  if (server_) return server_->link.tx_status();
  return lost_block_ ? 'E' : 'I';
}

std::string Session::lost_session_state() const {
  if (pinned_for_)
    return fmt::format(", and with it {}, which no other server connection can be given",
                       pinned_for_);
  if (settings_unread_)
    return ", and with it settings the session changed that pgwarden had not read back yet";
  return "";
}

bool Session::may_rescue() const {
  return replication_ == wire::ReplicationMode::none && !pinned_for_ && !settings_unread_ &&
         !ended_;
}

bool Session::rescues_from(const std::string& fatal_sqlstate) const {
  return may_rescue() && server_going_away(fatal_sqlstate);
}

void Session::note_server_words(const wire::Frame& f) {
  // A WARNING right before a close says why (57P02: another backend crashed
  // and the postmaster is ending every session).
  wire::ErrorFields words;
  if (wire::parse_error_fields(f.body, words) && server_going_away(words.sqlstate))
    server_words_ = std::move(words);
}

void Session::count_errors_in(std::string_view to_client) {
  wire::Frame f;
  while (wire::next_frame(to_client, proxy_.config().max_packet_size, f) == wire::FrameStatus::ok) {
    wire::ErrorFields e;
    if (f.type == 'E' && wire::parse_error_fields(f.body, e))
      proxy_.count_error(e.sqlstate, "proxy");
    to_client.remove_prefix(f.size);
  }
}

asio::awaitable<bool> Session::answer_in_lost_block(const wire::Frame& f) {
  const auto statement_text = [this](std::string_view name) -> std::optional<std::string> {
    auto it = statements_.find(std::string(name));
    if (it == statements_.end()) return std::nullopt;
    return it->second.rest.substr(0, it->second.rest.find('\0'));
  };
  wire::AbortedTransaction::Answer a = lost_block_->feed(f, statement_text);
  if (a.malformed) {
    co_await send_fatal_and_close(
        sqlstate::kProtocolViolation,
        fmt::format("invalid or malformed frontend message (type {})", static_cast<int>(f.type)),
        "protocol_violation");
    co_return false;
  }
  if (f.type == 'P' && a.accepted) {
    // A ROLLBACK the client prepares now exists for it, as on PostgreSQL.
    wire::ParseView pv;
    wire::parse_parse(f.body, pv);
    if (pv.name.empty()) {
      unnamed_statement_ = std::string(pv.rest);
      unnamed_on_link_ = false;
    } else if (rewrite_statements()) {
      statements_[std::string(pv.name)] = {proxy_.statements().id_for(pv.rest),
                                           std::string(pv.rest), ++statement_serial_};
    }
  }
  if (f.type == 'C') {
    char kind = 0;
    std::string_view name;
    if (wire::parse_target(f.body, kind, name) && kind == 'S' && !name.empty())
      statements_.erase(std::string(name));
  }
  if (a.skip_to_sync) discard_until_sync_ = true;
  if (a.finished) {
    lost_block_.reset();
    tx_status_.store('I', std::memory_order_relaxed);
    set_state(ClientState::idle);
  }
  count_errors_in(a.to_client);
  push_synthetic(std::move(a.to_client));
  co_return true;
}

void Session::server_lost(const pool::ServerPtr& s, std::string cause, std::string initiator,
                          int err_no, std::string message) {
  const bool fatal = s->link.fatal_seen();
  const bool rescued_fatal = fatal && server_words_ && server_words_->severity == "FATAL";
  std::string state = to_string(state_.load());
  if (reader_) reader_->attached = false;
  server_.reset();
  unlink_server(*s);
  tx_started_ns_ = 0;
  request_in_flight_.store(false, std::memory_order_relaxed);
  // The server's last words (a FATAL or WARNING it sent before closing) name
  // the cause better than the close itself.
  std::string sqlstate = fatal && !rescued_fatal ? end_sqlstate_ : "";
  if (server_words_) {
    sqlstate = server_words_->sqlstate;
    if (message.empty()) message = server_words_->message;
  } else if (fatal) {
    message = end_message_;
  }
  // A close without a FATAL after a WARNING is named by that WARNING: 57P02
  // is a crash restart, not a plain EOF.
  if (cause == "server_eof" && server_words_ && server_words_->severity != "FATAL")
    cause = cause_of_warned_close(server_words_->sqlstate);
  pool::CloseReason why{cause, initiator, sqlstate, message, err_no, state, "none"};

  if ((!fatal || rescued_fatal) && may_rescue()) {
    const std::string reason = fmt::format("{}{}{}", cause, message.empty() ? "" : ": ", message);
    wire::LostLinkErrors errors;
    errors.rolled_back = {
        "ERROR", sqlstate::kConnectionFailure,
        fmt::format("pgwarden: the server connection was lost ({}); the transaction was rolled "
                    "back",
                    reason),
        fmt::format("server {}", s->backend),
        "Roll back, then retry the transaction: this client connection is still usable."};
    errors.outcome_unknown = {
        "ERROR", kTransactionResolutionUnknown,
        fmt::format("pgwarden: the server connection was lost ({}) before the result arrived; "
                    "the statement may or may not have taken effect",
                    reason),
        fmt::format("server {}", s->backend),
        "Check whether it took effect before retrying it: this client connection is still "
        "usable."};
    wire::LostLinkAnswer a = s->link.lost(errors);
    for (const auto& [name, serial] : a.forgotten_client_statements)
      forget_client_statement(name, serial);
    for (const auto& [name, serial] : a.closed_client_statements) {
      closing_.erase({name, serial});
      forget_client_statement(name, serial);
    }
    unnamed_on_link_ = false;
    if (a.status == 'E') {
      std::optional<wire::ErrorFields> untold;
      if (!a.told) untold = errors.rolled_back;
      lost_block_.emplace(std::move(untold));
    }
    if (a.mid_batch) discard_until_sync_ = true;
    tx_status_.store(a.status, std::memory_order_relaxed);
    set_state(a.status == 'I' ? ClientState::idle : ClientState::in_transaction);
    const bool owed = !a.to_client.empty() || a.status == 'E';
    why.client_impact = owed ? "error_returned" : "rescued";
    pool_->close(s, why);
    if (!a.to_client.empty()) {
      count_errors_in(a.to_client);
      push_synthetic(std::move(a.to_client));
    }
    SPDLOG_DEBUG("client {} kept its connection after losing server {} ({}): status {}", id_, s->id,
                 cause, a.status);
    return;
  }

  // A link that was not provably idle had the client's work on it; a pinned
  // or session-mode client's link also held its session.
  const bool busy =
      !s->link.idle() || pinned_for_ || settings_unread_ || mode_ == PoolMode::session;
  why.client_impact = busy ? "disconnected" : "none";
  pool_->close(s, why);
  if (!busy) return;  // the client had nothing running there: it does not notice
  if (fatal) {
    // The client has the server's own FATAL in its outbox: deliver it, then
    // end as the server did.
    asio::co_spawn(
        strand_,
        [self = shared_from_this()]() -> asio::awaitable<void> {
          co_await self->close_client_after_flush();
        },
        asio::detached);
    return;
  }
  std::string text = fmt::format(
      "pgwarden: server connection {} lost ({}{}{}); the open transaction, if any, "
      "was rolled back{}",
      s->backend, cause, message.empty() ? "" : ": ", message, lost_session_state());
  end_with(cause, initiator, sqlstate::kConnectionFailure, text, err_no, "disconnected");
  asio::co_spawn(
      strand_,
      [self = shared_from_this(), text]() -> asio::awaitable<void> {
        co_await self->send_fatal_and_close(sqlstate::kConnectionFailure, text, "");
      },
      asio::detached);
}

}  // namespace pgw::proxy
