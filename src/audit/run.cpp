#include "pgwarden/audit/run.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "pgwarden/audit/inputs.hpp"
#include "pgwarden/audit/rules.hpp"
#include "pgwarden/audit/server.hpp"
#include "pgwarden/core/config.hpp"

namespace pgw::audit {

Report run(const RunOptions& opts) {
  Report rep;
  Inputs in;
  in.options = opts.options;
  rep.target = opts.options.target == Target::aurora ? "aurora" : "postgres";

  // File inputs first: a malformed one stops the audit with a precise error.
  for (auto& spec : opts.apps) in.apps.push_back(load_app(parse_app_spec(spec)));
  std::optional<ProxySettings> proxy;
  if (opts.proxy_config) {
    try {
      proxy = proxy_settings_from(pgw::load_config_file(*opts.proxy_config));
    } catch (const pgw::ConfigError& e) {
      throw InputError(e.what());
    }
    in.proxy = &*proxy;
  }

  std::vector<Finding> meta;
  ServerRead sr;
  if (opts.dsn) {
    sr = read_server(*opts.dsn, opts.sample_for);
    if (sr.problem == ServerProblem::none) {
      in.server = &sr.snapshot;
      rep.server_version = sr.snapshot.text("server_version").value_or("");
      rep.checks_run.push_back("server");
      for (auto& n : sr.notes)
        meta.push_back({"audit.query-failed", Severity::warning, "", "", n,
                        "grant the audit role read access (pg_monitor), or ignore if expected",
                        std::nullopt});
    } else {
      bool auth = sr.problem == ServerProblem::auth_failed;
      meta.push_back({auth ? "audit.auth-failed" : "audit.server-unreachable", Severity::error,
                      "--dsn", "", sr.message,
                      auth ? "check the user, password and pg_hba.conf entry for the audit role"
                           : "check host, port, network path and that the server is running",
                      std::nullopt});
      rep.checks_skipped.push_back(
          fmt::format("server: {} (server, memory, session and slot rules did not run)",
                      auth ? "authentication failed" : "unreachable"));
    }
  } else {
    rep.checks_skipped.push_back("server: no --dsn given");
  }
  rep.checks_run.push_back("connections");
  if (!in.apps.empty())
    rep.checks_run.push_back("apps");
  else
    rep.checks_skipped.push_back("apps: no --app given");
  if (in.proxy)
    rep.checks_run.push_back("proxy");
  else
    rep.checks_skipped.push_back("proxy: no --proxy-config given");
  if (in.options.target == Target::aurora)
    rep.checks_run.push_back("aurora");
  else
    rep.checks_skipped.push_back("aurora: --target postgres");

  rep.findings = evaluate(in);
  rep.findings.insert(rep.findings.begin(), meta.begin(), meta.end());
  std::stable_sort(rep.findings.begin(), rep.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     return static_cast<int>(a.severity) > static_cast<int>(b.severity);
                   });
  return rep;
}

}  // namespace pgw::audit
