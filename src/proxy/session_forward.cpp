// Forwarding between a client and its server connection. The client reader
// (client_loop) turns client messages into server writes and records, in
// `pending_`, which response completes each request; the server reader turns
// server messages into client writes, hides the responses to requests the
// proxy injected, produces synthetic ones in order, and hands the server back
// to the pool at the end of each transaction in transaction mode.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>

#include "pgwarden/net/socket_opts.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/session.hpp"

namespace pgw::proxy {

using asio::use_awaitable;

namespace {
int64_t now_ns() {
  return SteadyClock::now().time_since_epoch().count();
}
}  // namespace

bool Session::rewrite_statements() const {
  // In session mode too: a link lost under the client is replaced by one on
  // which its statements are prepared again.
  return proxy_.config().max_prepared_statements > 0;
}

void Session::send_to_server(wire::LinkRequest r) {
  if (!server_->link.has_outstanding()) {
    const int64_t now = now_ns();
    request_started_ns_.store(now, std::memory_order_relaxed);
    request_in_flight_.store(true, std::memory_order_relaxed);
    if (tx_started_ns_ == 0) tx_started_ns_ = now;
  }
  server_->link.sent(std::move(r));
}

void Session::push_synthetic(std::string bytes) {
  // Behind outstanding server responses, the answer waits its turn; with
  // nothing outstanding it can go out right away.
  if (server_ && server_->link.answer_locally(bytes)) return;
  asio::co_spawn(
      strand_,
      [self = shared_from_this(), bytes = std::move(bytes)]() -> asio::awaitable<void> {
        try {
          co_await self->client_out_.send(bytes);
        } catch (...) {
        }
      },
      asio::detached);
}

void Session::refuse_request(const std::string& sqlstate, const std::string& message) {
  // The request fails, the connection stays: an ERROR now (after any
  // responses still due); a simple query is over with it, an
  // extended-protocol batch is skipped up to the client's next Sync (as
  // PostgreSQL does after an error).
  std::string out;
  wire::error_response(out, {"ERROR", sqlstate, message});
  proxy_.count_error(sqlstate, "proxy");
  if (refusing_simple_query_) {
    wire::ready_for_query(out, client_tx_status());
  } else {
    discard_until_sync_ = true;
  }
  push_synthetic(std::move(out));
}

asio::awaitable<void> Session::watch_client_while_waiting(
    std::shared_ptr<Session> self, std::shared_ptr<ClientWatch> watch,
    std::shared_ptr<pool::WaitAbandon> abandon) {
  (void)self;    // keeps the session alive while the watch runs
  struct Exit {  // tells acquire_server the watch is over, however it ends
    ClientWatch& w;
    ~Exit() {
      w.exited = true;
      w.exit.cancel();
    }
  } on_exit{*watch};
  const size_t cap = proxy_.config().max_packet_size;
  char buf[4096];
  while (!watch->done) {
    boost::system::error_code ec;
    bool gone = false;
    if (client_.tls()) {
      // Through TLS, bytes are records, not input: they are read through the
      // stream. A read is cancelled when the wait ends; whatever it returned
      // is kept, and acquire_server waits for it before the client loop reads.
      const size_t n = co_await client_.async_read_some(
          asio::buffer(buf), asio::bind_cancellation_slot(watch->stop.slot(),
                                                          asio::redirect_error(use_awaitable, ec)));
      early_input_.append(buf, n);
      bytes_in_ += n;
      if (n > 0) {
        if (early_input_.size() > cap) co_return;  // enough held: stop watching
        continue;
      }
      if (watch->done) co_return;
      gone = true;
    } else {
      co_await client_.socket().async_wait(
          tcp::socket::wait_read, asio::bind_cancellation_slot(
                                      watch->stop.slot(), asio::redirect_error(use_awaitable, ec)));
      if (watch->done) co_return;
      gone = static_cast<bool>(ec);
      if (!gone) {
        // Pipelined input is kept for the client loop; only end-of-stream or
        // an error means the client left.
        const ssize_t n = ::recv(client_.socket().native_handle(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
          early_input_.append(buf, static_cast<size_t>(n));
          bytes_in_ += static_cast<uint64_t>(n);
          if (early_input_.size() > cap) co_return;  // enough held: stop watching
          continue;
        }
        gone = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      }
    }
    if (gone) {
      abandon->abandon();
      co_return;
    }
  }
}

asio::awaitable<pool::ServerPtr> Session::acquire_server() {
  auto previous = state_.load();
  wait_started_ns_.store(now_ns());
  set_state(ClientState::waiting_for_server);
  pool::ServerPtr s;
  std::optional<ProxyError> failure;
  // While it waits the client is not being read: watch its socket so that a
  // client that leaves is taken out of the queue and nothing it sent runs.
  auto abandon = std::make_shared<pool::WaitAbandon>();
  auto watch = std::make_shared<ClientWatch>(strand_);
  asio::co_spawn(strand_, watch_client_while_waiting(shared_from_this(), watch, abandon),
                 asio::detached);
  try {
    s = co_await pool_->acquire({}, abandon);
  } catch (const ProxyError& e) {
    failure = e;
  }
  watch->done = true;
  watch->stop.emit(asio::cancellation_type::all);
  if (client_.tls() && !watch->exited) {
    // A TLS read it started may still deliver bytes: they go before anything
    // the client loop reads next. (In plaintext it only peeks.)
    boost::system::error_code ec;
    co_await watch->exit.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  if (s && abandon->abandoned()) {
    // Left after the link was granted but before anything was written to it.
    pool_->release(std::move(s));
    failure = ProxyError(sqlstate::kConnectionFailure, "client left while waiting",
                         "client_gone_while_waiting", "client");
  }
  if (failure && failure->cause == "client_gone_while_waiting") {
    end_with("client_gone_while_waiting", "client", "", failure->message, 0, "none");
    co_return nullptr;
  }
  set_state(previous);
  if (!failure) {
    const auto waited = std::chrono::nanoseconds(now_ns() - wait_started_ns_.load());
    if (waited >= proxy_.config().events.pool_wait_threshold) {
      observe::ConnectionEvent ev = client_event("pool.wait");
      ev.state = "waiting_for_server";
      ev.wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited).count();
      ev.message = fmt::format("waited {} ms for a server connection of pool {}", ev.wait_ms,
                               pool_->settings().key());
      proxy_.bus().publish(ev);
    }
    co_return s;
  }
  const ProxyError& e = *failure;
  const bool logging_in = previous == ClientState::authenticating;
  observe::ConnectionEvent ev =
      client_event(e.cause == "query_wait_timeout" ? "pool.timeout" : "pool.error");
  ev.cause = e.cause;
  ev.sqlstate = e.sqlstate;
  ev.message = e.message;
  ev.initiator = e.initiator;
  ev.state = "waiting_for_server";
  ev.client_impact = logging_in ? "disconnected" : "error_returned";
  proxy_.bus().publish(ev);
  std::string text = e.detail.empty() ? e.message : e.message + " (" + e.detail + ")";
  if (logging_in) {
    co_await send_fatal_and_close(e.sqlstate, text, e.cause);
  } else {
    refuse_request(e.sqlstate, text);
  }
  co_return nullptr;
}

asio::awaitable<bool> Session::attach_server(std::string& to_server) {
  pool::ServerPtr s = co_await acquire_server();
  if (!s) co_return false;
  if (ended_) {
    SPDLOG_TRACE("client {} attach after end", id_);
    pool_->release(s);
    co_return false;
  }
  server_ = s;
  attached_.store(true);
  s->client_id.store(id_);
  linked_server_.store(s->id, std::memory_order_relaxed);
  {
    std::lock_guard lock(cancel_mu_);
    cancel_target_ = CancelTarget{s, s->backend_pid, s->backend_key};
  }
  reader_ = std::make_shared<ReaderControl>(strand_);
  // Both readers write to the server (the client's requests; the proxy's own
  // settings probe), so writes are serialised, in the order they are recorded.
  server_out_ = std::make_shared<Outbox>(s->stream);
  asio::co_spawn(strand_, server_reader(shared_from_this(), s, reader_, server_out_),
                 asio::detached);
  set_state(ClientState::active);

  // Probe bookkeeping belongs to one link: a link lost mid-probe leaves none.
  server_words_.reset();
  unnamed_on_link_ = false;
  probe_failed_ = probe_due_ = false;
  probe_rows_.clear();
  std::string sql = replay_sql(wanted_, s->params, s->defaults);
  if (!sql.empty()) {
    params_before_replay_ = s->params;
    for (auto& [k, v] : wanted_) s->params[k] = v;
    for (auto it = s->params.begin(); it != s->params.end();) {
      if (!wanted_.count(it->first) && !s->defaults.count(it->first))
        it = s->params.erase(it);
      else
        ++it;
    }
    // Goes out in the same write as the client's request, so the server cannot
    // answer (and be released) before that request is recorded as outstanding.
    wire::query(to_server, sql);
    send_to_server({wire::LinkRequest::replay});
  }
  co_return true;
}

void Session::prepare_on_server(uint64_t id, std::string_view rest, std::string& to_server,
                                std::string client_name, uint64_t client_serial) {
  wire::LinkState& link = server_->link;
  const auto capacity = static_cast<size_t>(proxy_.config().max_prepared_statements);
  if (link.must_close_before_parse(id)) {
    wire::close_statement(to_server, StatementRegistry::server_name(id));
    send_to_server({wire::LinkRequest::injected_close, id});
  } else if (auto victim = link.victim_for(capacity)) {
    wire::close_statement(to_server, StatementRegistry::server_name(*victim));
    send_to_server({wire::LinkRequest::injected_close, *victim});
  }
  wire::parse(to_server, StatementRegistry::server_name(id), rest);
  if (client_name.empty()) {
    send_to_server({wire::LinkRequest::injected_parse, id});
  } else {
    wire::LinkRequest parse{wire::LinkRequest::parse, id, {}, std::move(client_name)};
    parse.client_serial = client_serial;
    send_to_server(std::move(parse));
  }
}

void Session::close_client_statement(std::string name) {
  auto it = statements_.find(name);
  const uint64_t serial = it == statements_.end() ? 0 : it->second.serial;
  wire::LinkRequest answer{wire::LinkRequest::local};
  wire::close_complete(answer.payload);
  answer.client_name = name;
  answer.client_serial = serial;
  answer.closes = true;
  if (server_ && server_->link.answer_locally(std::move(answer))) {
    closing_.insert({std::move(name), serial});
    return;
  }
  if (it != statements_.end()) statements_.erase(it);
  std::string out;
  wire::close_complete(out);
  push_synthetic(std::move(out));
}

bool Session::answer_deallocate(std::string_view sql) {
  // The client's statements have pgwarden's names on the server: SQL that
  // names one of them is answered here, as PostgreSQL would answer it.
  // (Behind outstanding requests the status to report is not known yet: the
  // server answers, 26000.)
  if (!rewrite_statements() || (server_ && server_->link.has_outstanding())) return false;
  const std::optional<std::string> name = wire::deallocated_statement(sql);
  if (!name) return false;
  auto it = statements_.find(*name);
  if (it == statements_.end() || closing_.count({*name, it->second.serial})) return false;
  if (client_tx_status() == 'E') return false;  // the server's 25P02
  statements_.erase(it);
  std::string out;
  wire::command_complete(out, "DEALLOCATE");
  wire::ready_for_query(out, client_tx_status());
  push_synthetic(std::move(out));
  return true;
}

void Session::forget_client_statement(const std::string& name, uint64_t serial) {
  // Only the definition the event is about: the name may have been defined
  // again since.
  auto it = statements_.find(name);
  if (it != statements_.end() && it->second.serial == serial) statements_.erase(it);
}

void Session::ensure_prepared(uint64_t id, std::string_view rest, std::string& to_server) {
  if (server_->link.will_exist(id)) {
    server_->link.touch(id);
    return;
  }
  prepare_on_server(id, rest, to_server, {}, 0);
}

asio::awaitable<bool> Session::handle_client_frame(const wire::Frame& f, std::string& to_server) {
  using wire::LinkRequest;
  const char t = f.type;
  SPDLOG_TRACE("client {} msg '{}' server={}", id_, t, server_ ? server_->id : 0);
  if (discard_until_sync_) {
    if (t == 'S') {
      discard_until_sync_ = false;
      std::string out;
      wire::ready_for_query(out, client_tx_status());
      push_synthetic(std::move(out));
    } else if (t == 'X') {
      got_terminate_ = true;
      co_return false;
    }
    co_return true;
  }
  if (lost_block_ && t != 'X') co_return co_await answer_in_lost_block(f);
  switch (t) {
    case 'X':
      got_terminate_ = true;
      co_return false;
    case 'S':
      if (!server_) {
        std::string out;
        wire::ready_for_query(out, 'I');
        push_synthetic(std::move(out));
        co_return true;
      }
      break;
    case 'H':
      if (!server_) co_return true;
      break;
    case 'd':
    case 'c':
    case 'f':
      // Forwarded even before the CopyInResponse arrives (a client may
      // pipeline its data); outside COPY IN PostgreSQL ignores them.
      if (!server_) co_return true;
      break;
    case 'C': {
      char kind = 0;
      std::string_view name;
      if (rewrite_statements() && wire::parse_target(f.body, kind, name) && kind == 'S' &&
          !name.empty()) {
        // Answered here; the name is gone once the answer is delivered (an
        // error earlier in the batch makes PostgreSQL skip the Close).
        close_client_statement(std::string(name));
        co_return true;
      }
      break;
    }
    case 'Q':
      if (answer_deallocate(f.body.substr(0, f.body.find('\0')))) co_return true;
      break;
    case 'P':
    case 'B':
    case 'D':
    case 'E':
    case 'F':
      break;
    default: {
      std::string msg = fmt::format("invalid frontend message type {}", static_cast<int>(t));
      co_await send_fatal_and_close(sqlstate::kProtocolViolation, msg, "protocol_violation");
      co_return false;
    }
  }
  wire::ParseView pv;
  if (t == 'P' && !wire::parse_parse(f.body, pv)) {
    co_await send_fatal_and_close(sqlstate::kProtocolViolation, "malformed Parse message",
                                  "protocol_violation");
    co_return false;
  }
  if (t == 'Q' || t == 'P') {
    const std::string_view sql = t == 'Q' ? f.body.substr(0, f.body.find('\0')) : pv.query;
    if (!note_session_effects(sql, t == 'Q')) co_return true;
  }
  if (!server_) {
    refusing_simple_query_ = t == 'Q' || t == 'F';
    if (!co_await attach_server(to_server)) co_return !ended_;
  }
  // Settings changed earlier and not yet read back: read them now, while the
  // link is idle, ahead of this request.
  if (settings_dirty_ && server_->link.idle() && t != 'H' && t != 'd')
    queue_settings_probe(to_server);
  switch (t) {
    case 'Q': {
      unnamed_statement_.reset();  // a simple query destroys the unnamed statement
      unnamed_on_link_ = false;
      LinkRequest q{LinkRequest::query};
      q.changes_settings = probe_after_frame_;
      q.tx_exit = wire::classify_tx_exit(f.body.substr(0, f.body.find('\0')));
      send_to_server(std::move(q));
      break;
    }
    case 'S': {
      LinkRequest sync{LinkRequest::sync};
      sync.changes_settings = std::exchange(settings_in_batch_, false);
      send_to_server(std::move(sync));
      break;
    }
    case 'F':
      send_to_server({LinkRequest::function_call});
      break;
    case 'P': {
      if (pv.name.empty()) {
        unnamed_statement_ = std::string(pv.rest);
        unnamed_on_link_ = true;
      } else if (!rewrite_statements() && mode_ == PoolMode::session && !pinned_for_) {
        pin("a prepared statement known by its own name (max_prepared_statements = 0)");
      }
      if (rewrite_statements() && !pv.name.empty()) {
        std::string name(pv.name);
        if (auto it = statements_.find(name);
            it != statements_.end() && !closing_.count({name, it->second.serial})) {
          refusing_simple_query_ = false;
          refuse_request(sqlstate::kDuplicatePreparedStatement,
                         fmt::format("prepared statement \"{}\" already exists", name));
          co_return true;
        }
        uint64_t id = proxy_.statements().id_for(pv.rest);
        const uint64_t serial = ++statement_serial_;
        statements_[name] = {id, std::string(pv.rest), serial};
        if (server_->link.will_exist(id)) {
          server_->link.touch(id);
          // Answered here; forgotten again if PostgreSQL would have skipped it.
          wire::LinkRequest answer{wire::LinkRequest::local};
          wire::parse_complete(answer.payload);
          answer.client_name = name;
          answer.client_serial = serial;
          if (!server_->link.answer_locally(std::move(answer))) {
            std::string out;
            wire::parse_complete(out);
            push_synthetic(std::move(out));
          }
          co_return true;
        }
        prepare_on_server(id, pv.rest, to_server, std::move(name), serial);
        co_return true;
      }
      send_to_server({LinkRequest::parse});
      break;
    }
    case 'B': {
      wire::BindView bv;
      const bool parsed = wire::parse_bind(f.body, bv);
      if (parsed && bv.statement.empty()) reparse_unnamed_if_missing(to_server);
      if (rewrite_statements() && parsed && !bv.statement.empty()) {
        auto it = statements_.find(std::string(bv.statement));
        if (it != statements_.end()) {
          ensure_prepared(it->second.id, it->second.rest, to_server);
          wire::bind(to_server, bv.portal, StatementRegistry::server_name(it->second.id),
                     bv.after_stmt);
          send_to_server({LinkRequest::bind, it->second.id});
          co_return true;
        }
      }
      send_to_server({LinkRequest::bind});
      break;
    }
    case 'D': {
      char kind = 0;
      std::string_view name;
      const bool parsed = wire::parse_target(f.body, kind, name);
      if (parsed && kind == 'S' && name.empty()) reparse_unnamed_if_missing(to_server);
      if (rewrite_statements() && parsed && kind == 'S' && !name.empty()) {
        auto it = statements_.find(std::string(name));
        if (it != statements_.end()) {
          ensure_prepared(it->second.id, it->second.rest, to_server);
          wire::describe(to_server, 'S', StatementRegistry::server_name(it->second.id));
          send_to_server({LinkRequest::describe});
          co_return true;
        }
      }
      send_to_server({LinkRequest::describe});
      break;
    }
    case 'E':
      send_to_server({LinkRequest::execute});
      break;
    case 'C':
      send_to_server({LinkRequest::close});
      break;
    case 'c':
    case 'f':
      server_->link.sent_copy_end();
      break;
    default:  // 'H', 'd': no response of their own
      break;
  }
  to_server.append(f.body.data() - 5, f.size);
  if (probe_after_frame_) {
    probe_after_frame_ = false;
    queue_settings_probe(to_server);
  }
  co_return true;
}

void Session::reparse_unnamed_if_missing(std::string& to_server) {
  // Transaction mode may have moved the client since it parsed its unnamed
  // statement (Parse, Sync, then Describe: psql's \gdesc): parse it again here.
  if (unnamed_on_link_ || !unnamed_statement_) return;
  wire::parse(to_server, "", *unnamed_statement_);
  send_to_server({wire::LinkRequest::injected_parse});
  unnamed_on_link_ = true;
}

asio::awaitable<void> Session::client_loop() {
  const uint32_t max_len = proxy_.config().max_packet_size;
  observe::Counter* received = pool_->metrics().received;
  client_out_.count_into(pool_->metrics().sent);
  client_out_.set_limit(proxy_.config().client_buffer_size);
  std::vector<char> buf(16384);
  std::string to_server;
  for (;;) {
    size_t n = 0;
    if (!early_input_.empty()) {
      // Read while the session waited for a server (already counted in bytes_in_).
      n = early_input_.size();
      cbuf_ += early_input_;
      early_input_.clear();
    } else {
      n = co_await client_.async_read_some(asio::buffer(buf), use_awaitable);
      bytes_in_ += n;
      cbuf_.append(buf.data(), n);
    }
    received->inc(n);
    last_client_io_ns_.store(now_ns(), std::memory_order_relaxed);
    size_t consumed = 0;
    bool keep_going = true;
    for (;;) {
      wire::Frame f;
      auto st = wire::next_frame(std::string_view(cbuf_).substr(consumed), max_len, f);
      if (st == wire::FrameStatus::need_more) break;
      if (st == wire::FrameStatus::bad_length) {
        uint32_t len = wire::read_u32(cbuf_.data() + consumed + 1);
        co_await send_fatal_and_close(
            sqlstate::kProtocolViolation,
            fmt::format("invalid message length {} for message type {} (max_packet_size = {})",
                        static_cast<int32_t>(len),
                        static_cast<int>(static_cast<unsigned char>(cbuf_[consumed])), max_len),
            "protocol_violation");
        co_return;
      }
      keep_going = co_await handle_client_frame(f, to_server);
      consumed += f.size;
      if (!keep_going) break;
    }
    if (!to_server.empty() && server_) {
      auto s = server_;
      auto out = server_out_;
      s->bytes_out += to_server.size();
      try {
        co_await out->send(to_server);
      } catch (const boost::system::system_error& e) {
        // A failed write means a broken link: the server reader's read fails
        // too and reports the loss with its cause, once.
        SPDLOG_DEBUG("client {}: write to server failed: {}", id_, e.what());
      }
    }
    to_server.clear();
    cbuf_.erase(0, consumed);
    if (!keep_going || ended_) co_return;
  }
}

void Session::handle_server_frame(const wire::Frame& f, std::string& to_client, bool& release) {
  const char t = f.type;
  SPDLOG_TRACE("client {} server msg '{}' outstanding={}", id_, t, server_->link.outstanding());
  const size_t before = to_client.size();
  const wire::BackendOutcome out = server_->link.received(f, to_client);
  if (t == 'N') note_server_words(f);

  if (t == 'S') {  // ParameterStatus: the server's value changed (SET, RESET, DISCARD)
    std::string_view k, v;
    if (wire::parse_parameter_status(f.body, k, v)) {
      std::string key = pool::lower_key(k);
      server_->params[key] = std::string(v);
      if (!out.hidden && is_tracked_reported_param(key)) wanted_[key] = std::string(v);
    }
    return;
  }
  if (out.fatal) {
    proxy_.count_error(out.error_fields.sqlstate, "server");
    if (rescues_from(out.error_fields.sqlstate)) {
      // The client keeps its connection: it hears of the loss as an error
      // when the link closes (server_lost), not as the server's FATAL.
      to_client.resize(before);
      server_words_ = out.error_fields;
      return;
    }
    end_with("server_fatal", "server", out.error_fields.sqlstate, out.error_fields.message, 0,
             "disconnected");
    return;
  }
  if (out.error && !out.replay_failed && !out.probe_failed)
    proxy_.count_error(out.error_fields.sqlstate, "server");
  if (out.replay_failed) {
    spdlog::warn("pgwarden could not restore session parameters for client {}: {}", id_,
                 out.error_fields.message);
    // None of the replay's SETs took effect (one query, one transaction).
    server_->params = params_before_replay_;
    // A startup value the server refuses must not make every later settings
    // probe fail too: the probe restores only startup values a link took.
    std::erase_if(startup_values_, [&](const auto& kv) {
      auto it = server_->params.find(kv.first);
      return it == server_->params.end() || it->second != kv.second;
    });
  }
  if (out.probe_failed) probe_failed_ = true;
  if (out.probe_row) {
    auto row = wire::parse_data_row(f.body);
    // A custom variable that does not exist is left out: replay must not create it.
    if (row.size() >= 3 && row[2] != "t")
      probe_rows_.emplace_back(pool::lower_key(row[0]), std::move(row[1]));
  }
  if (out.probe_ready) {
    // Read inside a transaction, the values could still be rolled back: the
    // next probe, on an idle link, decides.
    if (out.status == 'I' && !probe_failed_) apply_settings_probe();
    // Settings that cannot be read back cannot be carried either: keep the
    // client on this link rather than let them reach someone else.
    // (In an aborted transaction every query fails: the next probe decides.)
    if (probe_failed_ && out.status == 'I' && !pinned_for_)
      pin("a setting pgwarden could not read back");
    probe_failed_ = false;
  }
  if (out.settings_changed) settings_dirty_ = true;
  // The client has been told a change is in effect (outside any block that
  // could still roll it back); until the probe reads it, no other link can be
  // given it.
  if (out.ready && out.status == 'I' && settings_dirty_) settings_unread_ = true;
  for (const auto& [name, serial] : out.forgotten_client_statements)
    forget_client_statement(name, serial);
  for (const auto& [name, serial] : out.closed_client_statements) {
    closing_.erase({name, serial});
    forget_client_statement(name, serial);
  }
  for (const auto& entry : out.kept_client_statements) closing_.erase(entry);
  if (out.statements_reset) {  // the client's DISCARD ALL / DEALLOCATE ALL
    statements_.clear();
    closing_.clear();
  }
  if (t == 'G' || t == 'H' || t == 'W') set_state(ClientState::copy);
  if (out.ready || out.replay_ready) {
    tx_status_.store(out.status, std::memory_order_relaxed);
    if (out.ready) set_state(out.status == 'I' ? ClientState::idle : ClientState::in_transaction);
  }
  if (!server_->link.has_outstanding()) {
    request_in_flight_.store(false, std::memory_order_relaxed);
    if (out.ready) record_request_done(out.status);
  }
  // A link goes back to the pool only when provably idle and clean.
  if ((out.ready || out.replay_ready || out.probe_ready) && may_release_link()) release = true;
  if (out.ready && server_->link.idle() && settings_dirty_ && !server_->link.awaits_probe() &&
      !pinned_for_)
    probe_due_ = true;
}

asio::awaitable<void> Session::server_reader(std::shared_ptr<Session> self, pool::ServerPtr s,
                                             std::shared_ptr<ReaderControl> ctl,
                                             std::shared_ptr<Outbox> to_server) {
  // `self` keeps the session alive for as long as its reader runs: a reader
  // still writing to a slow client may outlive the session's own coroutine.
  (void)self;
  std::string to_client;
  std::string cause, initiator = "server", message;
  int err_no = 0;
  try {
    for (;;) {
      size_t consumed = 0;
      bool release = false;
      to_client.clear();
      while (ctl->attached && !release) {
        wire::Frame f;
        auto st = wire::next_frame(std::string_view(s->rbuf).substr(consumed), 1u << 30, f);
        if (st == wire::FrameStatus::need_more) break;
        if (st == wire::FrameStatus::bad_length) {
          throw ProxyError(sqlstate::kProtocolViolation, "invalid message length from server",
                           "server_protocol_violation", "server");
        }
        handle_server_frame(f, to_client, release);
        consumed += f.size;
      }
      s->rbuf.erase(0, consumed);
      if (probe_due_ && ctl->attached && !release) {
        // A transaction that changed settings ended with the client idle: read
        // them back now rather than hold the link until its next request.
        probe_due_ = false;
        std::string probe;
        queue_settings_probe(probe);
        s->bytes_out += probe.size();
        co_await to_server->send(probe);
      }
      if (release && ctl->attached) release_server();
      SPDLOG_TRACE("client {} reader: {} bytes to client, release={}", id_, to_client.size(),
                   release);
      if (!to_client.empty()) {
        bool client_gone = false;
        try {
          co_await client_out_.send(to_client);
        } catch (const boost::system::system_error&) {
          client_gone = true;  // the client reader sees it too and ends the session
        }
        if (client_gone) break;
      }
      if (!ctl->attached) break;
      co_await pool::read_more(*s);
    }
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::eof) {
      cause = s->link.fatal_seen() ? "server_fatal" : "server_eof";
    } else if (e.code() != asio::error::operation_aborted) {
      cause = net::errno_cause(e.code().value());
      initiator = "network";
      err_no = e.code().value();
      message = e.code().message();
    }
  } catch (const ProxyError& e) {
    cause = e.cause;
    message = e.message;
  }
  ctl->running = false;
  ctl->exit.cancel();
  if (!cause.empty() && ctl->attached) server_lost(s, cause, initiator, err_no, message);
}

void Session::record_request_done(char tx_status) {
  const int64_t now = now_ns();
  const auto& m = pool_->metrics();
  m.query->observe(static_cast<double>(now - request_started_ns_.load(std::memory_order_relaxed)) /
                   1e9);
  if (tx_status == 'I' && tx_started_ns_ != 0) {
    m.transaction->observe(static_cast<double>(now - tx_started_ns_) / 1e9);
    tx_started_ns_ = 0;
  }
}

void Session::unlink_server(pool::ServerConn& s) {
  s.client_id.store(0);
  linked_server_.store(0, std::memory_order_relaxed);
  attached_.store(false);
  std::lock_guard lock(cancel_mu_);
  cancel_target_.reset();
}

void Session::release_server() {
  SPDLOG_TRACE("client {} release_server", id_);
  if (reader_) reader_->attached = false;
  pool::ServerPtr s = std::move(server_);
  server_.reset();
  unlink_server(*s);
  if (!s->rbuf.empty() || !s->link.idle()) {
    pool_->close(s,
                 {"unexpected_server_data", "proxy", "", "server sent data after ReadyForQuery"});
    return;
  }
  auto out = server_out_;
  if (s->cancels_in_flight.load() > 0 || (out && out->busy())) {
    // Lent only once nothing of this client's is still on its way to the
    // link: a cancel (it would interrupt the next client's query), or the
    // completion of a write (it would touch the link, and a TLS link's
    // session state, from this client's strand while the next client uses
    // it). Bounded by cancel_wait_timeout.
    asio::co_spawn(
        strand_,
        [self = shared_from_this(), s = std::move(s),
         out = std::move(out)]() mutable -> asio::awaitable<void> {
          const auto bound = self->proxy_.config().timeouts.cancel_wait;
          const auto give_up = SteadyClock::now() + bound;
          if (out && !co_await out->flushed(
                         std::chrono::duration_cast<std::chrono::milliseconds>(bound))) {
            self->pool_->close(s, {"server_write_stalled", "proxy", "",
                                   "a write to the server had not completed when the link was to "
                                   "be lent again"});
            co_return;
          }
          asio::steady_timer t(self->strand_);
          while (s->cancels_in_flight.load() > 0 && SteadyClock::now() < give_up) {
            t.expires_after(std::chrono::milliseconds(5));
            boost::system::error_code ec;
            co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
          }
          self->return_to_pool(std::move(s));
        },
        asio::detached);
    return;
  }
  return_to_pool(std::move(s));
}

void Session::return_to_pool(pool::ServerPtr s) {
  const auto& ps = pool_->settings();
  if (ps.reset_query_always && !ps.reset_query.empty())
    pool_->reset_then_release(std::move(s), {ps.reset_query}, "reset_failed");
  else
    pool_->release(std::move(s));
}

}  // namespace pgw::proxy
