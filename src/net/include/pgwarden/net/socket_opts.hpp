#pragma once
// Socket-level knobs and checks that the proxy applies to raw descriptors.
#include <string>

#include "pgwarden/core/config.hpp"

namespace pgw::net {

// TCP_NODELAY always; SO_KEEPALIVE + TCP_KEEPIDLE/INTVL/CNT and
// TCP_USER_TIMEOUT as configured (ka.user_timeout, which the config derives
// from the keepalive settings unless it is set; 0 leaves the kernel default).
// Returns false if a setsockopt failed.
bool apply_tcp_options(int fd, const Keepalive& ka);

// What a non-blocking peek at an idle connection shows.
enum class PeekResult { idle, readable, eof, error };
PeekResult peek(int fd, int& err_no);

// A stable snake_case cause code for a socket errno (see docs/events.md).
const char* errno_cause(int err_no);

// "127.0.0.1:5432" of the remote end, or "" when unknown.
std::string peer_name(int fd);

}  // namespace pgw::net
