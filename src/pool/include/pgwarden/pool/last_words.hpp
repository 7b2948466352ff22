#pragma once
// What a server's last words before it closed a connection say about the
// close: PostgreSQL ends a session it is not judging (a crash restart, an
// immediate shutdown) with a WARNING and then EOF, not with a FATAL.
#include <string>
#include <string_view>

#include "pgwarden/pool/errors.hpp"

namespace pgw {

namespace sqlstate {
inline constexpr const char* kCrashShutdown = "57P02";
}  // namespace sqlstate

// The cause of a server close without a FATAL whose last words were a
// WARNING with `warning_sqlstate` (PostgreSQL's quickdie): 57P02 is the
// postmaster ending every session because another backend crashed (the OOM
// killer, a kill -9), 57P01 an immediate shutdown (pg_ctl stop -m
// immediate). Any other close without a FATAL is server_eof.
inline std::string cause_of_warned_close(std::string_view warning_sqlstate) {
  if (warning_sqlstate == sqlstate::kCrashShutdown) return "server_crash";
  if (warning_sqlstate == sqlstate::kAdminShutdown) return "server_immediate_shutdown";
  return "server_eof";
}

}  // namespace pgw
