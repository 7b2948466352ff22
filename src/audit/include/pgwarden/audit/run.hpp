#pragma once
// One audit run: reads the inputs the command line names, evaluates every rule
// that can run and returns the report. What `pgwarden audit` does, as a library call.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pgwarden/audit/model.hpp"
#include "pgwarden/audit/report.hpp"

namespace pgw::audit {

struct RunOptions {
  std::optional<std::string> dsn;
  std::vector<std::string> apps;  // "--app" specs: FILE[,instances=N][,driver=...]
  std::optional<std::string> proxy_config;
  AuditOptions options;
  std::chrono::milliseconds sample_for{0};
};

// Throws InputError for malformed env files, proxy configs and --app specs.
Report run(const RunOptions& opts);

}  // namespace pgw::audit
