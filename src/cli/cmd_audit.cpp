// `pgwarden audit`: checks a server, the apps' pools and the proxy config
// against each other. The work is in src/audit; this file only maps flags.
#include <iostream>
#include <memory>

#include "command.hpp"
#include "pgwarden/audit/inputs.hpp"
#include "pgwarden/audit/run.hpp"
#include "pgwarden/core/duration.hpp"

namespace pgw::cli {

namespace {
struct AuditFlags {
  std::string dsn;
  std::vector<std::string> apps;
  std::string proxy_config;
  std::string ram;
  std::string target = "postgres";
  std::string output = "text";
  std::string fail_on = "error";
  std::string idle_cut = "aws";
  std::string instance_class;
  std::string sample = "0";
  std::string long_query = "5m";
  std::string idle_tx = "60s";
  bool zero = false;
};

int usage_error(const std::string& msg) {
  std::cerr << "pgwarden audit: " << msg << "\n";
  return 2;
}
}  // namespace

Command add_audit_command(CLI::App& root) {
  auto flags = std::make_shared<AuditFlags>();
  Command c;
  CLI::App* app = root.add_subcommand(
      "audit",
      "check the server, the apps' pools and the proxy config against each other (docs/audit.md)");
  app->add_option("--dsn", flags->dsn, "libpq URL or conninfo of the server to read (read-only)");
  app->add_option("--app", flags->apps,
                  "an application: its env file or a postgres:// URL, with options "
                  "[,instances=N][,max=N][,driver=pg|postgres|zero][,name=LABEL]; repeatable");
  app->add_option("--proxy-config", flags->proxy_config, "pgwarden proxy TOML config");
  app->add_option("--ram", flags->ram, "server RAM, e.g. 16GB (else read via the server)");
  app->add_option("--target", flags->target, "postgres or aurora")
      ->check(CLI::IsMember({"postgres", "aurora"}));
  app->add_option("--instance-class", flags->instance_class,
                  "Aurora instance class, e.g. db.r6g.large (with --target aurora)");
  app->add_option("--output", flags->output, "text, json or sarif")
      ->check(CLI::IsMember({"text", "json", "sarif"}));
  app->add_option("--fail-on", flags->fail_on,
                  "exit 1 when a finding is at least this severe: info, warning or error")
      ->check(CLI::IsMember({"info", "warning", "error"}));
  app->add_option("--idle-cut", flags->idle_cut,
                  "middlebox idle timeout to check keepalives against: aws (350s), azure (240s), "
                  "gcp (1200s) or a duration");
  app->add_option(
      "--sample", flags->sample,
      "sample pg_stat_activity once a second for this long to find the peak (e.g. 30s)");
  app->add_option("--long-query", flags->long_query,
                  "statements active longer than this are reported (default 5m)");
  app->add_option("--idle-in-transaction", flags->idle_tx,
                  "sessions idle in transaction longer than this are reported (default 60s)");
  app->add_flag("--zero", flags->zero, "check what Zero needs even without a Zero env file");
  c.app = app;
  c.run = [flags]() -> int {
    audit::RunOptions ro;
    if (!flags->dsn.empty()) ro.dsn = flags->dsn;
    ro.apps = flags->apps;
    if (!flags->proxy_config.empty()) ro.proxy_config = flags->proxy_config;
    auto& o = ro.options;
    o.target = flags->target == "aurora" ? audit::Target::aurora : audit::Target::postgres;
    if (!flags->ram.empty()) {
      auto r = audit::parse_size(flags->ram);
      if (!r) return usage_error("--ram '" + flags->ram + "' is not a size (e.g. 16GB, 512MB)");
      o.ram_bytes = *r;
    }
    if (!flags->instance_class.empty()) o.instance_class = flags->instance_class;
    if (flags->idle_cut == "aws") {
      o.idle_cut_s = 350;
    } else if (flags->idle_cut == "azure") {
      o.idle_cut_s = 240;
    } else if (flags->idle_cut == "gcp") {
      o.idle_cut_s = 1200;
    } else {
      auto d = parse_duration(flags->idle_cut);
      if (!d || d->count() < 1000)
        return usage_error("--idle-cut '" + flags->idle_cut +
                           "' must be aws, azure, gcp or a duration of at least 1s");
      o.idle_cut_s = d->count() / 1000;
    }
    o.idle_cut_name = flags->idle_cut;
    auto dur = [](const std::string& flag, const std::string& v) -> std::optional<Millis> {
      auto d = parse_duration(v);
      if (!d) std::cerr << "pgwarden audit: " << flag << " '" << v << "' is not a duration\n";
      return d;
    };
    auto sample = dur("--sample", flags->sample);
    auto lq = dur("--long-query", flags->long_query);
    auto itx = dur("--idle-in-transaction", flags->idle_tx);
    if (!sample || !lq || !itx) return 2;
    ro.sample_for = *sample;
    o.long_query_s = static_cast<double>(lq->count()) / 1000.0;
    o.idle_in_transaction_s = static_cast<double>(itx->count()) / 1000.0;
    o.zero = flags->zero;
    if (!ro.dsn && ro.apps.empty() && !ro.proxy_config)
      return usage_error("nothing to audit: give --dsn, --app or --proxy-config");

    audit::Report rep;
    try {
      rep = audit::run(ro);
    } catch (const audit::InputError& e) {
      std::cerr << "pgwarden audit: " << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "pgwarden audit: internal error: " << e.what() << "\n";
      return 3;
    }
    if (flags->output == "json")
      std::cout << audit::render_json(rep);
    else if (flags->output == "sarif")
      std::cout << audit::render_sarif(rep);
    else
      std::cout << audit::render_text(rep);
    return audit::exit_code(rep, *audit::parse_severity(flags->fail_on));
  };
  return c;
}

}  // namespace pgw::cli
