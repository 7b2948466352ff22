#pragma once
// Sends a CancelRequest for one backend to the address its link is connected
// to, within a deadline. PostgreSQL answers a cancel by closing the
// connection; the wait for that close tells the caller the request was read.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace pgw::pool {

// Returns an empty string on success, else what went wrong (for logs).
boost::asio::awaitable<std::string> send_cancel(boost::asio::ip::tcp::endpoint server,
                                                uint32_t backend_pid, uint32_t backend_key,
                                                std::chrono::milliseconds bound);

}  // namespace pgw::pool
