#include <iostream>

#include "command.hpp"

namespace pgw::cli {
Command add_proxy_command(CLI::App& root) {
  Command c;
  c.app = root.add_subcommand("proxy", "not built yet");
  c.run = [] {
    std::cerr << "pgwarden proxy: not implemented yet\n";
    return 2;
  };
  return c;
}
}  // namespace pgw::cli
