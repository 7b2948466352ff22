#pragma once
// One proxy→PostgreSQL connection and the state the proxy keeps about it.
// Owned by its Pool while idle, lent to exactly one session while active.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/net/stream.hpp"
#include "pgwarden/wire/link_state.hpp"

namespace pgw::pool {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

class Pool;

struct ServerConn {
  ServerConn(asio::any_io_executor ex, uint64_t id_) : stream(std::move(ex)), id(id_) {}
  // Plain or TLS; stream.socket() is the TCP socket under it.
  net::Stream stream;
  uint64_t id;
  Pool* pool = nullptr;
  std::string backend;  // host:port
  uint32_t backend_pid = 0;
  uint32_t backend_key = 0;
  // Parameter tracking uses lower-case names; `greeting` keeps the server's
  // spelling ("DateStyle") for the ParameterStatus messages clients are sent.
  std::map<std::string, std::string> params;    // current values (reported or SET by us)
  std::map<std::string, std::string> defaults;  // values right after login
  std::map<std::string, std::string> greeting;  // as reported at login
  std::string rbuf;                             // bytes read, not yet consumed
  SteadyClock::time_point created = SteadyClock::now();
  SteadyClock::time_point last_used = SteadyClock::now();
  // Protocol state: outstanding requests, transaction status, COPY, and the
  // pgwarden-named prepared statements that really exist on this server.
  wire::LinkState link;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  bool counted = false;  // holds a slot in its pool's limits
  // Deadline of run_simple_query (internal_query_timeout, set at login);
  // `query_timed_out` once one expired: the link must then be closed.
  std::chrono::milliseconds query_deadline{0};
  bool query_timed_out = false;
  // Read by the admin views from other threads.
  std::atomic<uint64_t> client_id{0};  // the client it is lent to; 0 = none
  // CancelRequests for this link's backend still being delivered: the link is
  // not lent to anyone else until they are done, so a late cancel cannot
  // interrupt the next client's query.
  std::atomic<int> cancels_in_flight{0};
  std::chrono::system_clock::time_point connected_at = std::chrono::system_clock::now();
  std::string local_addr;  // set at login, then constant
  std::string tls;         // "TLSv1.3/<cipher>" or "" (plaintext); set at login, then constant
  uint16_t local_port = 0;
  // The address actually connected to: cancel requests go here, never to a
  // fresh resolution of the host name (which may point elsewhere by then).
  tcp::endpoint remote;
  // Which host of its database it went to, and that host's role epoch then:
  // a link whose host changed role since is closed (server_role_changed).
  size_t host_index = 0;
  uint64_t host_epoch = 0;
};
using ServerPtr = std::shared_ptr<ServerConn>;

// Reads from the server until at least one more byte is buffered.
asio::awaitable<void> read_more(ServerConn& s);

std::string lower_key(std::string_view key);

// Runs one simple query to completion (reset query, ROLLBACK, health check,
// capacity probe), keeping params and the link state current. Returns false
// (with the reason) on an ErrorResponse, an I/O failure or no answer within
// s.query_deadline (then s.query_timed_out is set); the connection must then
// be closed. `first_row`, when given, receives the text columns of the first
// DataRow.
asio::awaitable<bool> run_simple_query(ServerConn& s, std::string sql, std::string& failure,
                                       std::vector<std::string>* first_row = nullptr);

// The same for `sql` with one text parameter through the extended protocol
// (Parse, Bind, Execute, Sync): `param` is bound, never part of the query's
// text. Used for auth_query.
asio::awaitable<bool> run_param_query(ServerConn& s, const std::string& sql,
                                      const std::string& param, std::string& failure,
                                      std::vector<std::string>& first_row);

// The cause to close a connection with after run_simple_query failed:
// internal_query_timeout when its deadline expired, else `otherwise`.
inline std::string query_failure_cause(const ServerConn& s, std::string otherwise) {
  return s.query_timed_out ? std::string("internal_query_timeout") : std::move(otherwise);
}

}  // namespace pgw::pool
