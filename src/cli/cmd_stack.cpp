// `pgwarden stack up|status|down [--dir DIR] [--standby]`: the local development stack.
#include <iostream>
#include <string>

#include "command.hpp"
#include "pgwarden/repro/stack.hpp"

namespace pgw::cli {

namespace {

struct StackFlags {
  std::string action;
  std::string dir;
  bool standby = false;
};

int run_stack(const StackFlags& f) {
  const auto dir = f.dir.empty() ? repro::default_stack_dir() : std::filesystem::path(f.dir);
  if (f.action == "up") return repro::stack_up(dir, {f.standby}, std::cout, std::cerr);
  if (f.action == "status") return repro::stack_status(dir, std::cout, std::cerr);
  return repro::stack_down(dir, std::cout, std::cerr);
}

}  // namespace

Command add_stack_command(CLI::App& root) {
  auto flags = std::make_shared<StackFlags>();
  Command c;
  c.app = root.add_subcommand(
      "stack",
      "Start, inspect or stop a local stack: PostgreSQL 15, Redis, pgwarden proxy and faults");
  auto* app = c.app;
  app->footer(
      "Examples:\n  pgwarden stack up [--standby]\n  eval \"$(pgwarden stack status | grep -v "
      "'^#')\"\n"
      "  pgwarden stack down\nWhat it starts, the state directory and the env lines: "
      "docs/stack.md");
  app->add_option("action", flags->action, "up, status or down")
      ->required()
      ->check(CLI::IsMember({"up", "status", "down"}));
  app->add_option(
      "--dir", flags->dir,
      "state directory (default $TMPDIR/pgwarden-stack-UID, /tmp/pgwarden-stack-0 for root)");
  app->add_flag("--standby", flags->standby, "up: also start a streaming standby of PostgreSQL");
  c.run = [flags] { return run_stack(*flags); };
  return c;
}

}  // namespace pgw::cli
