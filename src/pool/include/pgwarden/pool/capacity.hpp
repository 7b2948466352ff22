#pragma once
// How close a PostgreSQL server is to max_connections: probed with a short
// separate login so the answer is there even when every pooled connection is
// busy. A refused login with 53300 is itself the answer: no headroom.
#include <boost/asio/awaitable.hpp>

#include <string>

#include "pgwarden/pool/pool.hpp"

namespace pgw::pool {

struct ServerCapacity {
  std::string backend;  // host:port
  bool up = false;      // the probe got an answer (a 53300 refusal counts)
  int max_connections = 0;
  int reserved = 0;  // superuser_reserved_connections
  int in_use = 0;    // client backends right now
  int headroom() const { return max_connections - reserved - in_use; }
  std::string error;  // why the probe failed, or the 53300 message
};

asio::awaitable<ServerCapacity> probe_capacity(const PoolSettings& ps);

}  // namespace pgw::pool
