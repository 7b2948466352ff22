#include <vector>

#include "command.hpp"
#include "pgwarden/core/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"pgwarden: ends the mystery of dropped PostgreSQL connections"};
  app.set_version_flag("--version", std::string("pgwarden ") + pgw::kVersion);
  app.require_subcommand(1);
  std::vector<pgw::cli::Command> commands{
      pgw::cli::add_proxy_command(app), pgw::cli::add_logs_command(app),
      pgw::cli::add_audit_command(app), pgw::cli::add_faults_command(app),
      pgw::cli::add_stack_command(app),
  };
  CLI11_PARSE(app, argc, argv);
  for (auto& c : commands) {
    if (c.app && c.app->parsed()) return c.run();
  }
  return 2;
}
