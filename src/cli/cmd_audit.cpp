#include <iostream>

#include "command.hpp"

namespace pgw::cli {
Command add_audit_command(CLI::App& root) {
  Command c;
  c.app = root.add_subcommand("audit", "not built yet");
  c.run = [] {
    std::cerr << "pgwarden audit: not implemented yet\n";
    return 2;
  };
  return c;
}
}  // namespace pgw::cli
