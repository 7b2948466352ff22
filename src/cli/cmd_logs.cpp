#include <iostream>

#include "command.hpp"
#include "pgwarden/logs/run.hpp"

namespace pgw::cli {
Command add_logs_command(CLI::App& root) {
  auto opts = std::make_shared<logs::Options>();
  auto format = std::make_shared<std::string>("auto");
  auto prefix = std::make_shared<std::string>();
  auto gap_s = std::make_shared<double>(60);
  Command c;
  CLI::App* app = root.add_subcommand(
      "logs", "Classify connection events in PostgreSQL, PgBouncer and application logs");
  c.app = app;
  app->add_option("files", opts->inputs, "Log files or globs; - reads stdin; .gz is read as is");
  app->add_option("--prefix", *prefix,
                  "PostgreSQL log_line_prefix of stderr logs (default: detect)");
  app->add_option("--format", *format,
                  "Input format: auto|stderr|csvlog|jsonlog|pgbouncer|pgwarden|json-lines|text");
  app->add_option("--output", opts->output, "What to write: summary|json|html|events");
  app->add_option("-o,--out", opts->out_file, "Write to this file instead of stdout");
  app->add_flag("--follow", opts->follow,
                "Tail the files and write classified events as JSON lines");
  app->add_flag("--from-start", opts->from_start, "With --follow: read what the files hold first");
  app->add_option("--max-idle", opts->max_idle_s,
                  "With --follow: exit after this many seconds without new lines (0: never)");
  app->add_option("--rules", opts->rule_files, "Extra rule pack (TOML); repeatable")
      ->allow_extra_args(false);
  app->add_flag("--no-builtin-rules", opts->no_builtin_rules, "Use only the --rules files");
  app->add_flag("--dump-rules", opts->dump_rules, "Print the built-in rule pack and exit");
  app->add_flag("--list-classes", opts->list_classes, "Print every class and exit");
  app->add_option("-j,--jobs", opts->jobs, "Files analysed in parallel (default: cores)");
  app->add_option("--assume-start", opts->assume_start,
                  "Time for lines without a timestamp (default: the file's mtime)");
  app->add_option("--bucket", opts->analyzer.bucket_s, "Seconds per time-series bucket (1-86400)");
  app->add_option("--incident-gap", *gap_s,
                  "Failures closer than this many seconds form one incident (1-86400)");
  app->add_option("--incident-min", opts->analyzer.incident_min,
                  "Failures needed to report an incident");
  app->add_option("--progress", opts->progress, "Progress bar on stderr: auto|always|never");
  c.run = [opts, format, prefix, gap_s]() {
    // Validated here (not by CLI11) so that every usage error exits with 2.
    auto f = logs::parse_format(*format);
    if (!f) {
      std::cerr << "pgwarden logs: --format: unknown format '" << *format << "'\n";
      return logs::kExitError;
    }
    opts->format = *f;
    const std::string& o = opts->output;
    if (o != "summary" && o != "json" && o != "html" && o != "events") {
      std::cerr << "pgwarden logs: --output: unknown output '" << o << "'\n";
      return logs::kExitError;
    }
    const std::string& p = opts->progress;
    if (p != "auto" && p != "always" && p != "never") {
      std::cerr << "pgwarden logs: --progress: auto, always or never\n";
      return logs::kExitError;
    }
    if (!prefix->empty()) opts->prefix = *prefix;
    if (opts->analyzer.bucket_s < 1 || opts->analyzer.bucket_s > 86400 || *gap_s < 1 ||
        *gap_s > 86400 || opts->jobs < 0 || opts->max_idle_s < 0) {
      std::cerr << "pgwarden logs: --bucket/--incident-gap must be 1-86400, --jobs and "
                   "--max-idle >= 0\n";
      return logs::kExitError;
    }
    opts->analyzer.incident_gap_us = static_cast<int64_t>(*gap_s * 1e6);
    if (opts->follow) opts->output = "events";
    try {
      return logs::run(*opts, std::cout, std::cerr);
    } catch (const std::exception& e) {
      std::cerr << "pgwarden logs: " << e.what() << "\n";
      return logs::kExitError;
    }
  };
  return c;
}
}  // namespace pgw::cli
