#pragma once
// The protocol state of one proxy→server link, fed every message the proxy
// writes to the server and every message the server sends back. It answers
// the questions a pooler must never guess: which response completes which
// request, which responses belong to the proxy's own injected requests, what
// the server skips after an error, whether the link is provably idle (and so
// may be lent to another client), and which pgwarden-named prepared
// statements really exist on the server. Pure: no sockets, no clocks.
//
// The state × message → action table is in docs/ARCHITECTURE.md.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pgwarden/wire/codec.hpp"
#include "pgwarden/wire/prepared_lru.hpp"
#include "pgwarden/wire/sql_lex.hpp"

namespace pgw::wire {

// One request written to the server (or answered by the proxy), in send order.
struct LinkRequest {
  enum Kind : uint8_t {
    parse,
    bind,
    describe,
    execute,
    close,
    sync,
    query,
    function_call,
    injected_parse,  // the proxy's Parse of a statement the client prepared elsewhere: hidden
    injected_close,  // the proxy's Close of an evicted or stale statement: hidden
    replay,          // the proxy's SET/RESET of session parameters (a simple query): hidden
    probe,           // the proxy's read of the session's settings (a simple query): hidden
    local,           // a response the proxy produces itself, released in order
    copy_end         // the client's CopyDone/CopyFail: no response, marks where COPY IN ends
  };
  Kind kind;
  uint64_t statement = 0;         // pgwarden statement id (parse, close, bind); 0 = not tracked
  std::string payload;            // local: the bytes to send to the client
  std::string client_name;        // parse: the client's statement name, forgotten if skipped
  bool changes_settings = false;  // reported as settings_changed when it completes
  // A client statement this request defines (a Parse, or a local ParseComplete)
  // or, with `closes`, removes (a local CloseComplete): `client_serial` tells
  // one definition of a name from a later one.
  uint64_t client_serial = 0;
  bool closes = false;
  // query: the statement ends a transaction block (what a lost link answers
  // for it depends on it).
  TxExit tx_exit = TxExit::other;

  bool sync_point() const {
    return kind == sync || kind == query || kind == function_call || kind == replay ||
           kind == probe;
  }
  bool hidden() const {
    return kind == injected_parse || kind == injected_close || kind == replay || kind == probe;
  }
};

// Where the link stands, most demanding first: what may be done with it.
enum class LinkPhase {
  broken,              // the server sent FATAL/PANIC or broke the protocol: close it
  copy,                // COPY in progress (either direction)
  busy,                // requests written, responses outstanding
  unsynced,            // extended-protocol messages since the last Sync: an implicit
                       // transaction or a skip-until-Sync may be open on the server
  in_transaction,      // ReadyForQuery 'T'
  failed_transaction,  // ReadyForQuery 'E'
  idle                 // ReadyForQuery 'I' for every sync point; nothing else outstanding
};
const char* to_string(LinkPhase p);

// What to do with a link whose client has gone.
enum class DepartureAction {
  release,           // provably idle: lend it again
  rollback,          // a transaction block is open and nothing else: ROLLBACK, then lend
  cancel_and_close,  // the server is working for nobody: CancelRequest, then close
  close              // state unknown or unrecoverable without running the client's work: close
};
DepartureAction on_client_departure(LinkPhase p);

// What the session learns from one server message.
struct BackendOutcome {
  bool hidden = false;            // the response to a request the proxy injected
  bool ready = false;             // a ReadyForQuery that ended a client's request
  bool replay_ready = false;      // the ReadyForQuery of the proxy's parameter replay
  bool probe_row = false;         // a DataRow answering the proxy's settings probe
  bool probe_ready = false;       // the ReadyForQuery of that probe
  bool error = false;             // an ErrorResponse (severity ERROR)
  bool replay_failed = false;     // ...to the proxy's parameter replay: not shown to the client
  bool probe_failed = false;      // ...to the proxy's settings probe: not shown either
  bool fatal = false;             // FATAL or PANIC: the server is ending the link
  bool unexpected = false;        // a response with no request to match (protocol drift)
  bool statements_reset = false;  // DISCARD ALL / DEALLOCATE ALL completed: all statements gone
  bool settings_changed = false;  // a client's SET / RESET / DISCARD (or a request so
                                  // marked, e.g. set_config()) completed
  char status = 0;                // ReadyForQuery's transaction status
  ErrorFields error_fields;       // when error or fatal
  // Client statements whose definition PostgreSQL skipped after an error.
  std::vector<std::pair<std::string, uint64_t>> forgotten_client_statements;
  // Client Closes answered now (the statement is gone) or skipped (it stays).
  std::vector<std::pair<std::string, uint64_t>> closed_client_statements;
  std::vector<std::pair<std::string, uint64_t>> kept_client_statements;
};

// What a client is owed for the requests its lost link left unanswered, in
// order, as if the server had failed each of them (LinkState::lost).
struct LostLinkErrors {
  ErrorFields rolled_back;      // the client's transaction block died with the link
  ErrorFields outcome_unknown;  // a request outside a block (or a COMMIT) may have run
};
struct LostLinkAnswer {
  std::string to_client;   // errors, local answers due, a ReadyForQuery per sync point
  char status = 'I';       // the client's transaction status afterwards: 'E' = its block is lost
  bool told = false;       // the client has heard that its block is lost
  bool mid_batch = false;  // its extended batch has no Sync yet: skip to it, then ReadyForQuery
  std::vector<std::pair<std::string, uint64_t>> forgotten_client_statements;
  std::vector<std::pair<std::string, uint64_t>> closed_client_statements;
};

class LinkState {
 public:
  // ---- what the proxy wrote to the server (call in write order) ----
  // Extended-protocol and simple-protocol requests that the server answers.
  void sent(LinkRequest r);
  // Flush ('H'): no response of its own, changes nothing.
  // CopyData: no response. CopyDone / CopyFail end the client's COPY IN.
  void sent_copy_end();
  // A response the proxy answers itself: queued behind outstanding requests so
  // the client sees responses in request order. Returns false when nothing is
  // outstanding: the caller sends the bytes at once.
  bool answer_locally(std::string bytes);
  // The same for an answer that defines or closes a client statement (`r` of
  // kind local, with client_name, client_serial and closes set).
  bool answer_locally(LinkRequest r);

  // ---- what the server sent (call for every message, in order) ----
  // Appends to `to_client` what the client must see: the frame (unless it
  // answers a hidden request) and any local answers now due.
  BackendOutcome received(const Frame& f, std::string& to_client);

  // ---- questions ----
  LinkPhase phase() const;
  bool idle() const { return phase() == LinkPhase::idle; }
  bool has_outstanding() const { return !pending_.empty(); }
  size_t outstanding() const { return pending_.size(); }
  bool in_copy() const { return copy_ != Copy::none; }
  bool copy_in() const { return copy_ == Copy::in; }
  char tx_status() const { return tx_; }
  // The server said FATAL/PANIC: its reason went to the client.
  bool fatal_seen() const { return fatal_; }
  // The proxy's settings probe is written and not yet answered.
  bool awaits_probe() const;

  // ---- prepared statements (pgwarden-named, tracked by id) ----
  // Whether statement `id` will exist on the server once everything written so
  // far has run without error (what the next Bind may rely on).
  bool will_exist(uint64_t id) const;
  // Confirmed by ParseComplete and not closed since.
  const PreparedLru& confirmed() const { return confirmed_; }
  void touch(uint64_t id) { confirmed_.touch(id); }
  // A confirmed statement to close so that one more fits in `capacity`
  // (counting Parses in flight), least recently used first; none if it fits.
  std::optional<uint64_t> victim_for(size_t capacity) const;
  // A statement the server holds but can no longer execute (its cached plan's
  // result type changed): it must be closed before it is parsed again.
  bool must_close_before_parse(uint64_t id) const {
    return stale_.count(id) != 0 && !in_flight_.count(id);
  }

  // The link is gone (EOF, reset, FATAL): what the client hears instead of
  // the responses still due, so that it keeps its connection. Call once, as
  // the last thing done with this state.
  LostLinkAnswer lost(const LostLinkErrors& why);

  // Simple-query bookkeeping for the proxy's own queries on an idle link
  // (reset query, health check): same rules, nothing client-visible.
  void sent_internal_query() { sent({LinkRequest::replay}); }

 private:
  enum class Copy : uint8_t { none, in, out };
  void skip_to_sync(BackendOutcome& out);
  void drop_effect(const LinkRequest& r);
  void note_effect(const LinkRequest& r);
  void drain_locals(std::string& to_client, BackendOutcome& out);

  std::deque<LinkRequest> pending_;
  size_t unsynced_ = 0;
  Copy copy_ = Copy::none;
  char tx_ = 'I';
  bool broken_ = false;
  bool fatal_ = false;
  bool batch_failed_ = false;  // an error in the current extended batch (skipping to Sync)
  PreparedLru confirmed_;
  // Statement ids with Parse/Close written but not yet answered: the last one
  // written decides will_exist(); the count says when none is left in flight.
  struct InFlight {
    bool last_is_parse = false;
    uint32_t count = 0;
  };
  std::unordered_map<uint64_t, InFlight> in_flight_;
  std::unordered_map<uint64_t, bool> stale_;
};

}  // namespace pgw::wire
