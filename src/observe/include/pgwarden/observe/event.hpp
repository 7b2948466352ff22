#pragma once
// The connection event: one record per lifecycle step of a client or server
// connection, shared by every pgwarden command (see docs/events.md). Pure
// data and its JSON form; no sockets.
#include <chrono>
#include <cstdint>
#include <string>

namespace pgw::observe {

using SystemClock = std::chrono::system_clock;

struct ConnectionEvent {
  SystemClock::time_point ts = SystemClock::now();
  std::string event;  // client.open, client.close, server.open, server.close, pool.wait, ...
  uint64_t conn_id = 0;
  std::string side;  // client | server
  std::string peer;
  std::string backend;
  std::string database;
  std::string user;
  std::string application_name;
  int64_t backend_pid = 0;
  int64_t age_ms = -1;
  int64_t idle_ms = -1;
  std::string state;
  // For closes and refusals:
  std::string initiator;  // client | server | proxy | network
  std::string cause;
  std::string sqlstate;
  std::string message;
  int err_no = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::string client_impact;  // none | error_returned | disconnected | rescued
  std::string pool;           // database/user
  std::string tls;            // server side: "TLSv1.3/<cipher>" when the link is TLS
  int64_t wait_ms = -1;
  // A replication connection: its kind ("database" or "physical"), the phase
  // it ended in, bytes each way and the last LSNs seen (as PostgreSQL prints them).
  std::string replication;
  std::string replication_phase;
  int64_t replication_bytes_from_server = -1;
  int64_t replication_bytes_from_client = -1;
  std::string replication_wal_end;
  std::string replication_flush_lsn;
  // sink.failing / sink.recovered: which event sink, and (recovered) how many
  // events it dropped meanwhile.
  std::string sink;
  int64_t count = -1;
  // host.* and failover events: the host ("addr:port") and its role (primary,
  // standby, down, unknown); `previous_role` before a change.
  std::string host;
  std::string role;
  std::string previous_role;
  // failover: the writer that was lost, and the timeline in ms after the
  // first failure seen (writer lost): detected, new writer found, first
  // transaction served.
  std::string old_host;
  int64_t detected_ms = -1;
  int64_t writer_found_ms = -1;
  int64_t first_served_ms = -1;
  // Events of `pgwarden faults` (docs/faults.md): source "faults" (empty for
  // the proxy's own events), the relay proxy's name, the toxic's name and
  // type, and the stream it acts on (upstream | downstream).
  std::string source;
  std::string proxy;
  std::string toxic;
  std::string toxic_type;
  std::string stream;
};

// RFC 3339 UTC with microseconds: 2026-11-27T03:04:05.123456Z
std::string format_ts(SystemClock::time_point tp);
// One JSON object, no trailing newline. Empty strings and negative numbers
// that mean "unknown" are left out.
std::string to_json(const ConnectionEvent& e);

}  // namespace pgw::observe
