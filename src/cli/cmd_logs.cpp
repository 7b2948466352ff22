#include <iostream>

#include "command.hpp"

namespace pgw::cli {
Command add_logs_command(CLI::App& root) {
  Command c;
  c.app = root.add_subcommand("logs", "not built yet");
  c.run = [] {
    std::cerr << "pgwarden logs: not implemented yet\n";
    return 2;
  };
  return c;
}
}  // namespace pgw::cli
