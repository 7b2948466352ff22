#pragma once
#include <atomic>
#include <cstdint>

namespace pgw::observe {
// One id space for client and server connections, so an id names one
// connection in every event, metric and API answer.
inline uint64_t next_conn_id() {
  static std::atomic<uint64_t> next{0};
  return ++next;
}
}  // namespace pgw::observe
