#pragma once
// Reads a live server over libpq, read-only, into a ServerSnapshot.
#include <chrono>
#include <string>

#include "pgwarden/audit/model.hpp"

namespace pgw::audit {

enum class ServerProblem { none, unreachable, auth_failed };

struct ServerRead {
  ServerProblem problem = ServerProblem::none;
  std::string message;  // libpq's message when problem != none
  ServerSnapshot snapshot;
  std::vector<std::string> notes;  // queries that could not run, and why
};

// sample_for: when > 0, samples pg_stat_activity about once a second for that
// long and records the peak number of client backends.
ServerRead read_server(const std::string& dsn, std::chrono::milliseconds sample_for = {});

}  // namespace pgw::audit
