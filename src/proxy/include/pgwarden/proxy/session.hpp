#pragma once
// One client connection: startup and authentication, then forwarding in
// session or transaction mode with prepared-statement and parameter
// bookkeeping, until the client, the server, a timeout or the proxy ends it.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pgwarden/pool/pool.hpp"
#include "pgwarden/proxy/login_policy.hpp"
#include "pgwarden/proxy/outbox.hpp"
#include "pgwarden/proxy/params.hpp"
#include "pgwarden/proxy/replication.hpp"
#include "pgwarden/wire/aborted_transaction.hpp"
#include "pgwarden/wire/auth.hpp"
#include "pgwarden/wire/codec.hpp"

namespace pgw::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
class Proxy;
using pool::SteadyClock;
using Strand = asio::strand<asio::io_context::executor_type>;

enum class ClientState : int {
  authenticating,
  idle,
  active,
  in_transaction,
  copy,
  waiting_for_server
};
const char* to_string(ClientState s);

// One client as the admin views show it (read from any thread).
struct ClientInfo {
  uint64_t id = 0;
  uint32_t key_pid = 0;
  std::string peer, local, database, user, application_name, pool;
  std::string tls;  // "TLSv1.3/TLS_AES_256_GCM_SHA384"; "" in plaintext
  ClientState state = ClientState::authenticating;
  std::chrono::system_clock::time_point connected_at, last_request, wait_started;
  uint64_t server_id = 0;  // linked server connection, 0 = none
  char tx_status = 'I';
  // A replication connection (replication=database or physical): its stream.
  std::optional<ReplicationInfo> replication;
};

// The server link a cancel request for this client goes to.
struct CancelTarget {
  pool::ServerPtr server;
  uint32_t pid = 0;
  uint32_t key = 0;
};

// One per attached server: lets finish() stop and await that server's reader
// without confusing it with the reader of a later attachment.
struct ReaderControl {
  explicit ReaderControl(Strand& st) : exit(st, SteadyClock::time_point::max()) {}
  bool running = true;
  bool attached = true;  // false once its server is released or lost, even if re-attached
  asio::steady_timer exit;
};

// Stops the watch on a waiting client's socket once the wait is over.
struct ClientWatch {
  explicit ClientWatch(Strand& st) : exit(st, SteadyClock::time_point::max()) {}
  bool done = false;
  asio::cancellation_signal stop;
  bool exited = false;
  asio::steady_timer exit;  // cancelled when the watch coroutine ends
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Proxy& proxy, Strand strand, tcp::socket socket);
  asio::awaitable<void> run();

  // Called by the janitor on any thread: re-checks and enforces timeouts on
  // the session's strand.
  void check_timeouts();
  bool maybe_timed_out(SteadyClock::time_point now) const;
  // The link a cancel for this client goes to, counted as a cancel in flight
  // on it (the caller must decrement server->cancels_in_flight when done).
  std::optional<CancelTarget> claim_cancel_target();
  uint32_t cancel_key() const { return cancel_secret_; }
  uint32_t key_pid() const { return key_pid_; }
  uint64_t id() const { return id_; }
  ClientInfo info() const;
  // Administrative close (shutdown): tells the client why, then closes.
  void terminate(std::string cause, std::string sqlstate, std::string message);
  // The same, only if the client is idle: logged in, no transaction open and
  // no request queued or running (a draining shutdown).
  void end_if_idle(std::string cause, std::string sqlstate, std::string message);

 private:
  // ---- login (session_login.cpp)
  asio::awaitable<bool> login();
  asio::awaitable<bool> read_startup(wire::StartupPacket& pkt);
  // TLS towards the client (client_tls_*): a connection that opens with a TLS
  // record (PostgreSQL 17's direct TLS), the answer to an SSLRequest, the
  // handshake, and the refusal of plaintext where TLS is required.
  asio::awaitable<bool> accept_direct_tls();
  asio::awaitable<bool> answer_ssl_request();
  asio::awaitable<bool> start_tls(std::shared_ptr<asio::ssl::context> ctx, bool direct);
  bool plaintext_refused() const;
  // The client certificate's checks: verify-full and auth_type = cert.
  asio::awaitable<bool> check_client_certificate();
  asio::awaitable<bool> authenticate();
  asio::awaitable<bool> read_password_message(std::string& body);
  asio::awaitable<void> handle_cancel_request(const wire::StartupPacket& pkt);
  asio::awaitable<bool> greet();
  // The admin console database instead of a pool (session_console.cpp).
  asio::awaitable<void> serve_console();
  // ---- credentials beyond the config (session_credentials.cpp)
  // A user refused as unknown_user: its secret from auth_query, when
  // configured; `secret` set and `refusal` cleared when found. False when
  // the lookup failed (the client has been told).
  asio::awaitable<bool> query_unlisted_user(std::optional<LoginRefusal>& refusal,
                                            std::optional<std::string>& secret);
  // A client logged in against `stored`: an md5 hash or SCRAM verifier, and
  // the keys its SCRAM proof gave, are what this user's pools log in with.
  void remember_credentials(const std::string& stored, std::optional<wire::ScramKeys> keys);

  // ---- replication connections (session_replication.cpp)
  // A dedicated server link, never pooled: bytes both ways until either ends.
  asio::awaitable<bool> serve_replication();
  asio::awaitable<ReplicationEnd> replication_client_pump(pool::ServerPtr s);
  asio::awaitable<ReplicationEnd> replication_server_pump(pool::ServerPtr s);

  // ---- forwarding (session_forward.cpp)
  asio::awaitable<void> client_loop();
  asio::awaitable<bool> handle_client_frame(const wire::Frame& f, std::string& to_server);
  asio::awaitable<pool::ServerPtr> acquire_server();
  asio::awaitable<void> watch_client_while_waiting(std::shared_ptr<Session> self,
                                                   std::shared_ptr<ClientWatch> watch,
                                                   std::shared_ptr<pool::WaitAbandon> abandon);
  asio::awaitable<bool> attach_server(std::string& to_server);
  void handle_server_frame(const wire::Frame& f, std::string& to_client, bool& release);
  asio::awaitable<void> server_reader(std::shared_ptr<Session> self, pool::ServerPtr s,
                                      std::shared_ptr<ReaderControl> ctl,
                                      std::shared_ptr<Outbox> to_server);
  void release_server();
  // The pool's part of a release (reset query if configured).
  void return_to_pool(pool::ServerPtr s);
  // Clears the links an admin view and cancel routing follow.
  void unlink_server(pool::ServerConn& s);
  // Latency histograms at the end of a request (and of a transaction).
  void record_request_done(char tx_status);
  // ---- a lost server link (session_rescue.cpp)
  // Ends the attachment: in transaction mode the client keeps its connection
  // and is owed errors for the work the link had; otherwise it is closed.
  void server_lost(const pool::ServerPtr& s, std::string cause, std::string initiator, int err_no,
                   std::string message);
  bool may_rescue() const;
  // Why a lost link ends this client (for its FATAL), or "".
  std::string lost_session_state() const;
  // A server FATAL with this SQLSTATE fails the client's work instead of
  // ending its connection.
  bool rescues_from(const std::string& fatal_sqlstate) const;
  // Keeps a NoticeResponse that explains a close to come (57P01/57P02/57P03).
  void note_server_words(const wire::Frame& f);
  // A client whose transaction block died with its link: answered locally.
  asio::awaitable<bool> answer_in_lost_block(const wire::Frame& f);
  // pgwarden_errors_total for each ErrorResponse pgwarden sends on its own.
  void count_errors_in(std::string_view to_client);
  // The transaction status the client was last told of.
  char client_tx_status() const;
  // Records a request written to the server in the link's state machine.
  void send_to_server(wire::LinkRequest r);
  // A response the proxy produces itself, delivered in request order.
  void push_synthetic(std::string bytes);
  // Parse (after a Close of a stale or evicted statement, if needed) on the server.
  void prepare_on_server(uint64_t id, std::string_view rest, std::string& to_server,
                         std::string client_name, uint64_t client_serial);
  // The client's Close of a named statement, answered by pgwarden in order.
  void close_client_statement(std::string name);
  // SQL `DEALLOCATE name` of a statement pgwarden renamed: answered here.
  bool answer_deallocate(std::string_view sql);
  void forget_client_statement(const std::string& name, uint64_t serial);
  void ensure_prepared(uint64_t id, std::string_view rest, std::string& to_server);
  // SQL that changes settings or leaves session state. False when the
  // request was refused (transaction mode, transaction_session_state = "refuse").
  bool note_session_effects(std::string_view sql, bool simple_query);
  void pin(const char* reason);
  // Reads the session's settings back from the server (hidden), so that they
  // follow the client to its next server connection.
  void queue_settings_probe(std::string& to_server);
  void apply_settings_probe();
  void reparse_unnamed_if_missing(std::string& to_server);
  // Transaction mode releases a link only if it is idle and holds nothing of
  // this client's that the next client could see.
  bool may_release_link() const;
  bool rewrite_statements() const;
  void refuse_request(const std::string& sqlstate, const std::string& message);

  // ---- ending (session.cpp)
  asio::awaitable<void> finish();
  asio::awaitable<void> stop_server_reader();
  // The client is gone: release, roll back, or cancel and close its link.
  void hand_back_after_departure(pool::ServerPtr s);
  void end_with(std::string cause, std::string initiator, std::string sqlstate = {},
                std::string message = {}, int err_no = 0, std::string impact = {});
  asio::awaitable<void> send_fatal_and_close(std::string sqlstate, std::string message,
                                             std::string cause);
  // Closes the client once what is queued for it is written (bounded wait).
  asio::awaitable<void> close_client_after_flush();
  // An event about this client with the fields every client event carries.
  observe::ConnectionEvent client_event(std::string event) const;
  void emit_client_event(const char* event);
  void set_state(ClientState s);

  Proxy& proxy_;
  Strand strand_;
  net::Stream client_;  // TLS once the client asked for it
  Outbox client_out_;
  std::string cbuf_;
  std::string early_input_;  // client bytes read while waiting for a server
  uint64_t id_;
  uint32_t key_pid_ = 0;
  uint32_t cancel_secret_ = 0;
  std::string peer_, local_;
  std::string tls_;  // the client's TLS version/cipher once it is in TLS
  std::string database_, user_, app_name_;
  ParamMap wanted_;  // lower-case GUC name → value the client expects
  // The client's startup parameters: what RESET brings back on PostgreSQL.
  // On a pooled link RESET brings back the link's login values instead; the
  // settings probe puts these back wherever that happened.
  ParamMap startup_values_;
  std::shared_ptr<pool::Pool> pool_;
  PoolMode mode_ = PoolMode::transaction;
  bool counted_login_ = false;
  // Set at startup for replication=database / physical; repl_ once it streams.
  wire::ReplicationMode replication_ = wire::ReplicationMode::none;
  std::shared_ptr<ReplicationLink> repl_;

  // The linked server; its protocol state lives in server_->link.
  pool::ServerPtr server_;
  std::shared_ptr<Outbox> server_out_;  // writes to server_, from either coroutine
  std::shared_ptr<ReaderControl> reader_;
  // What the attached server said before it closed (a FATAL or WARNING the
  // client was spared), for the close's cause and the client's error.
  std::optional<wire::ErrorFields> server_words_;
  // The client's transaction block was lost with its link: until it ends the
  // block, pgwarden answers it.
  std::optional<wire::AbortedTransaction> lost_block_;
  // The proxy refused a request in an extended-protocol batch: the client's
  // messages are skipped up to its Sync, as PostgreSQL would after an error.
  bool discard_until_sync_ = false;
  bool refusing_simple_query_ = false;  // the request being served is a Query / FunctionCall

  // Session state in transaction mode. Changes to settings are reported by
  // the link in response order; a probe that completes after them (outside a
  // transaction) has read them all back.
  bool settings_dirty_ = false;
  bool settings_in_batch_ = false;         // a Parse of this batch may change settings
  std::set<std::string> custom_settings_;  // dotted names the client set, read back by name
  bool probe_failed_ = false;
  bool probe_due_ = false;  // the server reader is to send a probe now
  bool probe_after_frame_ = false;
  std::vector<std::pair<std::string, std::string>> probe_rows_;
  // Settings the client was told are in effect that no probe has read back
  // yet: a link lost now would take them with it.
  bool settings_unread_ = false;
  // Session state only this link holds (LISTEN, a temporary table...): why the
  // client keeps its link, and why losing the link ends the client.
  const char* pinned_for_ = nullptr;
  ParamMap params_before_replay_;  // the link's values, restored if the replay fails
  // The client's unnamed statement (query + types), re-parsed when a Bind or
  // Describe of it lands on a link that does not have it.
  std::optional<std::string> unnamed_statement_;
  bool unnamed_on_link_ = false;

  struct ClientStatement {
    uint64_t id;
    std::string rest;     // query + parameter types, to re-Parse on another server
    uint64_t serial = 0;  // this definition of the name
  };
  uint64_t statement_serial_ = 0;
  // Closes answered but not yet delivered (name, serial): the name is free
  // for a new Parse behind them.
  std::set<std::pair<std::string, uint64_t>> closing_;
  std::unordered_map<std::string, ClientStatement> statements_;

  // Janitor-visible state (read from other threads).
  std::atomic<ClientState> state_{ClientState::authenticating};
  std::atomic<int64_t> last_client_io_ns_{0};
  std::atomic<int64_t> request_started_ns_{0};
  std::atomic<bool> request_in_flight_{false};
  std::atomic<char> tx_status_{'I'};
  std::atomic<bool> attached_{false};
  std::atomic<uint64_t> linked_server_{0};
  std::atomic<int64_t> wait_started_ns_{0};
  int64_t tx_started_ns_ = 0;  // first request of the current transaction; 0 = none
  const SteadyClock::time_point created_ = SteadyClock::now();

  std::mutex cancel_mu_;
  std::optional<CancelTarget> cancel_target_;

  // Close bookkeeping: the first reason recorded wins.
  bool ended_ = false;
  std::string end_cause_, end_initiator_, end_sqlstate_, end_message_, end_impact_;
  int end_errno_ = 0;
  bool got_terminate_ = false;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
};

}  // namespace pgw::proxy
