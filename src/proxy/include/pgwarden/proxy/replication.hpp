#pragma once
// A replication connection's passthrough (session_replication.cpp): its
// dedicated server link and the stream observer the admin views read.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "pgwarden/observe/event.hpp"
#include "pgwarden/pool/pool.hpp"
#include "pgwarden/wire/replication_stream.hpp"

namespace pgw::proxy {

// What the admin views and /metrics show of one replication connection.
struct ReplicationInfo {
  std::string mode;  // "database" (logical) or "physical"
  std::string backend;
  uint32_t backend_pid = 0;
  wire::ReplicationStats stats;
};

// How one direction of a replication connection ended.
struct ReplicationEnd {
  std::string cause, initiator, sqlstate, message;
  int err_no = 0;
  bool server = false;  // the server's side failed or closed (a read or a write)
};

// The stream as both pumps see it (on the session's strand), read by the
// admin views from any thread.
class ReplicationLink {
 public:
  explicit ReplicationLink(wire::ReplicationMode mode) : mode_(mode) {}
  wire::ReplicationMode mode() const { return mode_; }
  void on_client_bytes(std::string_view data, int64_t now_ns) {
    std::lock_guard lock(mu_);
    obs_.on_client_bytes(data, now_ns);
  }
  void on_server_bytes(std::string_view data, int64_t now_ns) {
    std::lock_guard lock(mu_);
    obs_.on_server_bytes(data, now_ns);
  }
  void on_end() {
    std::lock_guard lock(mu_);
    obs_.on_end();
  }
  void set_backend(std::string backend, uint32_t pid) {
    std::lock_guard lock(mu_);
    backend_ = std::move(backend);
    pid_ = pid;
  }
  wire::ReplicationStats stats() const {
    std::lock_guard lock(mu_);
    return obs_.stats();
  }
  // Bytes of the server's message in progress already read (0 at a boundary).
  uint64_t server_partial() const {
    std::lock_guard lock(mu_);
    return obs_.server_partial();
  }
  ReplicationInfo info() const {
    std::lock_guard lock(mu_);
    return {wire::to_string(mode_), backend_, pid_, obs_.stats()};
  }

 private:
  const wire::ReplicationMode mode_;
  mutable std::mutex mu_;
  wire::ReplicationObserver obs_;
  std::string backend_;
  uint32_t pid_ = 0;
};

// The database a physical replication client is served by. PostgreSQL's
// walsender ignores the name, and pg_receivewal / pg_basebackup always send
// "replication": a configured database of that name is used, else the only
// configured database (the console aside), else the name as given (refused
// as unknown_database).
std::string physical_replication_database(const ProxyConfig& cfg, const std::string& database);

// A replication connection's fields of its events (client.close...).
void fill_replication_fields(observe::ConnectionEvent& ev, const ReplicationLink& link);

// The server settings a new replication link for `pool` connects with: the
// one place that picks its host (today the pool's host and port; with
// writer tracking, the current writer).
pool::PoolSettings replication_target(const pool::Pool& pool);

}  // namespace pgw::proxy
