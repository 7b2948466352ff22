#pragma once
// `pgwarden stack up|status|down`: the local development stack (docs/stack.md).
#include <filesystem>
#include <iosfwd>

namespace pgw::repro {

// The state directory when --dir is not given: ./.pgwarden-stack.
std::filesystem::path default_stack_dir();

struct StackOptions {
  bool standby = false;  // a streaming standby of the primary
};

// Each returns the exit status; `out` gets the results, `err` the problems.
int stack_up(const std::filesystem::path& dir, const StackOptions& options, std::ostream& out,
             std::ostream& err);
int stack_status(const std::filesystem::path& dir, std::ostream& out, std::ostream& err);
int stack_down(const std::filesystem::path& dir, std::ostream& out, std::ostream& err);

}  // namespace pgw::repro
