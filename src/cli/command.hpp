#pragma once
// Each subcommand lives in its own cmd_<name>.cpp and registers itself with
// the root CLI11 app through one of these functions.
#include <CLI/CLI.hpp>

#include <functional>

namespace pgw::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  // called when the subcommand was given; returns the exit code
};

Command add_proxy_command(CLI::App& root);
Command add_logs_command(CLI::App& root);
Command add_audit_command(CLI::App& root);
Command add_faults_command(CLI::App& root);
Command add_stack_command(CLI::App& root);

}  // namespace pgw::cli
