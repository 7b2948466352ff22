#pragma once
// The audit rules. Each function is pure: plain values in, findings out.
#include <string>
#include <vector>

#include "pgwarden/audit/model.hpp"

namespace pgw::audit {

struct RuleInfo {
  const char* id;
  Severity severity;  // the most severe level it can report
  const char* title;
  const char* source;  // source of truth, also in docs/audit.md
};
// Every rule the audit knows, in documentation order.
const std::vector<RuleInfo>& rule_catalogue();
const RuleInfo* find_rule(const std::string& id);

struct Inputs {
  const ServerSnapshot* server = nullptr;  // null when there is no server to read
  std::vector<AppConfig> apps;
  const ProxySettings* proxy = nullptr;
  AuditOptions options;
};

std::vector<Finding> check_server(const ServerSnapshot& s, const Inputs& in);
std::vector<Finding> check_connections(const Inputs& in);  // pools vs max_connections
std::vector<Finding> check_apps(const Inputs& in);
std::vector<Finding> check_proxy(const Inputs& in);
std::vector<Finding> check_aurora(const Inputs& in);

// All of the above that the inputs allow, sorted by severity (errors first).
std::vector<Finding> evaluate(const Inputs& in);

// Connection-budget arithmetic, exposed for tests and the text report.
struct Demand {
  int total = 0;
  std::vector<std::string> parts;  // "app.env: max 20 x 3 instances = 60"
};
Demand server_demand(const Inputs& in);
int available_slots(const ServerSnapshot& s);  // max_connections - reserved

}  // namespace pgw::audit
