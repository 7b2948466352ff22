#pragma once
// `pgwarden logs` as a function: options in, report out, exit code back.
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "pgwarden/logs/analysis.hpp"

namespace pgw::logs {

// Exit codes (docs/logs.md).
constexpr int kExitOk = 0;        // analysed; no failure-class events
constexpr int kExitFindings = 1;  // analysed; at least one failure-class event
constexpr int kExitError = 2;     // usage error, bad rule file, or an unreadable input

struct Options {
  std::vector<std::string> inputs;  // files, globs, "-" for stdin
  std::optional<std::string> prefix;
  Format format = Format::Auto;
  std::string output = "summary";  // summary | json | html | events
  std::string out_file;            // empty: stdout
  bool follow = false;
  bool from_start = false;  // --follow: read existing content first
  double max_idle_s = 0;    // --follow: stop after this long without new lines (0: never)
  std::vector<std::string> rule_files;
  bool no_builtin_rules = false;
  bool dump_rules = false;
  bool list_classes = false;
  int jobs = 0;                   // 0: one per core, at most one per file
  std::string assume_start;       // RFC 3339 time for lines without a timestamp
  std::string progress = "auto";  // auto | always | never
  AnalyzerOptions analyzer;
};

int run(const Options& opts, std::ostream& out, std::ostream& err);

}  // namespace pgw::logs
