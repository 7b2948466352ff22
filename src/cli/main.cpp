#include <CLI/CLI.hpp>

#include "pgwarden/core/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"pgwarden: ends the mystery of dropped PostgreSQL connections"};
  app.set_version_flag("--version", std::string("pgwarden ") + pgw::kVersion);
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
