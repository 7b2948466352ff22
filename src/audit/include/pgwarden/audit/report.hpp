#pragma once
// The audit's report: findings plus what ran, as text, JSON or SARIF 2.1.0.
#include <string>
#include <vector>

#include "pgwarden/audit/model.hpp"

namespace pgw::audit {

struct Report {
  std::vector<Finding> findings;
  std::vector<std::string> checks_run;      // "server", "apps", "proxy", "aurora", "connections"
  std::vector<std::string> checks_skipped;  // "server: no --dsn given", ...
  std::string target = "postgres";
  std::string server_version;  // "" when not read
};

std::string render_text(const Report& r);
std::string render_json(const Report& r);
std::string render_sarif(const Report& r);

// 1 when a finding is at or above fail_on, else 0.
int exit_code(const Report& r, Severity fail_on);

}  // namespace pgw::audit
