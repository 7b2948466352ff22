#pragma once
// The PgBouncer-compatible admin console: a virtual database on the proxy's
// own port (default "pgbouncer") where SHOW POOLS / CLIENTS / SERVERS / STATS
// / DATABASES / VERSION answer with PgBouncer's column names, so existing
// dashboards and exporters can read pgwarden, and PAUSE, RESUME, KILL and
// RELOAD control it. This file turns one command into protocol bytes; the
// session feeds it queries (session_console.cpp).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/pool/pool.hpp"

namespace pgw::proxy {

class Proxy;

struct ConsoleResult {
  std::string bytes;  // RowDescription/DataRow/CommandComplete, or an ErrorResponse
  // PAUSE completes only when these pools have no server lent or opening.
  std::vector<std::shared_ptr<pool::Pool>> wait_until_idle;
  std::string tag_after_wait;  // CommandComplete sent once the wait is over
};

class Console {
 public:
  Console(Proxy& proxy, std::string user, bool may_control);
  ConsoleResult execute(std::string_view sql);

 private:
  std::string show(std::string_view what);
  std::string show_pools();
  std::string show_clients();
  std::string show_servers();
  std::string show_stats();
  std::string show_databases();
  // pgwarden's own: one row per replication connection (docs/replication.md).
  std::string show_replication();
  ConsoleResult control(const std::string& verb, const std::string& arg);

  Proxy& proxy_;
  std::string user_;
  bool may_control_;
};

}  // namespace pgw::proxy
