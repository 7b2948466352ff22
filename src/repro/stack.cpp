#include "pgwarden/repro/stack.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <ostream>

#include "pgwarden/repro/process.hpp"
#include "pgwarden/repro/stack_components.hpp"
#include "pgwarden/repro/stack_state.hpp"

namespace pgw::repro {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool any_alive(const StackState& s) {
  for (const auto& c : s.components) {
    if (process_alive(c.pid)) return true;
  }
  return false;
}

// Stops every component, last started first; true when every PID is gone.
bool stop_components(const StackState& s, std::ostream& out) {
  bool all_gone = true;
  for (auto it = s.components.rbegin(); it != s.components.rend(); ++it) {
    if (it->pid <= 0 || !process_alive(it->pid)) continue;
    const bool gone = stop_process(it->pid, it->stop_signal, 15s);
    out << fmt::format("{}: {} (pid {})\n", it->name, gone ? "stopped" : "could not be stopped",
                       it->pid);
    all_gone = all_gone && gone;
  }
  return all_gone;
}

// Removes what `up` made in the state directory, and the directory when empty.
void remove_state(const StackState& s) {
  std::error_code ec;
  for (const auto& c : s.components) fs::remove_all(c.dir, ec);
  fs::remove(state_file(s.dir), ec);
  fs::remove(s.dir, ec);  // only succeeds when empty: files of the user's stay
}

void print_env(const StackState& s, std::ostream& out) {
  for (const auto& [name, value] : stack_env(s)) out << name << "=" << value << "\n";
}

std::string ports_text(const StackComponent& c) {
  std::string text;
  for (const auto& [name, port] : c.ports) text += fmt::format(" {}=127.0.0.1:{}", name, port);
  return text;
}

}  // namespace

fs::path default_stack_dir() {
  // Under /tmp, not the checkout: as root, PostgreSQL runs as the postgres
  // user, who cannot reach a directory under /root. One per OS user, so
  // up, status and down agree without --dir.
  return fs::temp_directory_path() / fmt::format("pgwarden-stack-{}", ::getuid());
}

int stack_up(const fs::path& dir_arg, const StackOptions& options, std::ostream& out,
             std::ostream& err) {
  const fs::path dir = fs::absolute(dir_arg).lexically_normal();
  try {
    if (auto old = load_state(dir)) {
      if (any_alive(*old)) {
        err << fmt::format(
            "pgwarden stack up: a stack is already up in {} (see `pgwarden stack status --dir "
            "{}`); run `pgwarden stack down --dir {}` first\n",
            dir.string(), dir.string(), dir.string());
        return 1;
      }
      remove_state(*old);  // a stack whose processes are all gone (a reboot): start afresh
    }
  } catch (const std::exception& e) {
    err << "pgwarden stack up: " << e.what() << "\n";
    return 1;
  }

  StackState s;
  s.dir = dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    err << fmt::format("pgwarden stack up: cannot create {}: {}\n", dir.string(), ec.message());
    return 1;
  }
  // PostgreSQL runs as the postgres OS user when we are root: it must reach its directory.
  fs::permissions(dir,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                      fs::perms::others_read | fs::perms::others_exec,
                  ec);
  const auto changed = [](const StackState& st) { save_state(st); };
  try {
    const StackTools tools = find_stack_tools();
    save_state(s);
    out << "starting postgres...\n" << std::flush;
    start_postgres(s, tools, changed);
    if (options.standby) {
      out << "starting standby...\n" << std::flush;
      start_standby(s, tools, changed);
    }
    out << "starting redis...\n" << std::flush;
    start_redis(s, tools, changed);
    out << "starting proxy...\n" << std::flush;
    start_proxy(s, tools, changed);
    out << "starting faults...\n" << std::flush;
    start_faults(s, tools, changed);
    save_state(s);
  } catch (const std::exception& e) {
    std::string component = "stack";
    fs::path log;
    if (const auto* ce = dynamic_cast<const ComponentError*>(&e)) {
      component = ce->component;
      log = ce->log;
    }
    err << fmt::format("pgwarden stack up: {} failed: {}\n", component, e.what());
    if (!log.empty()) {
      err << fmt::format("  log: {}\n", log.string());
      err << log_tail(log, 10);
    }
    err << "stopping what was started\n";
    stop_components(s, err);
    remove_state(s);
    return 1;
  }
  out << fmt::format("stack up in {} (state: {})\n", dir.string(), state_file(dir).string());
  for (const auto& c : s.components) {
    out << fmt::format("# {} pid {}{} log {}\n", c.name, c.pid, ports_text(c), c.log.string());
  }
  print_env(s, out);
  return 0;
}

int stack_status(const fs::path& dir_arg, std::ostream& out, std::ostream& err) {
  const fs::path dir = fs::absolute(dir_arg).lexically_normal();
  std::optional<StackState> s;
  try {
    s = load_state(dir);
  } catch (const std::exception& e) {
    err << "pgwarden stack status: " << e.what() << "\n";
    return 1;
  }
  if (!s) {
    err << fmt::format(
        "pgwarden stack status: no stack in {} ({} does not exist); start one with `pgwarden "
        "stack up --dir {}`\n",
        dir.string(), state_file(dir).string(), dir.string());
    return 1;
  }
  bool all_up = !s->components.empty();
  for (const auto& c : s->components) {
    const bool alive = process_alive(c.pid);
    all_up = all_up && alive;
    out << fmt::format("# {} {} pid {}{} log {}\n", c.name, alive ? "running" : "NOT RUNNING",
                       c.pid, ports_text(c), c.log.string());
  }
  print_env(*s, out);
  if (!all_up) err << "pgwarden stack status: not every component is running\n";
  return all_up ? 0 : 1;
}

int stack_down(const fs::path& dir_arg, std::ostream& out, std::ostream& err) {
  const fs::path dir = fs::absolute(dir_arg).lexically_normal();
  std::optional<StackState> s;
  try {
    s = load_state(dir);
  } catch (const std::exception& e) {
    err << "pgwarden stack down: " << e.what() << "\n";
    return 1;
  }
  if (!s) {
    out << fmt::format("no stack in {}: nothing to stop\n", dir.string());
    return 0;
  }
  if (!stop_components(*s, out)) {
    err << "pgwarden stack down: some processes could not be stopped; the state is kept\n";
    return 1;
  }
  remove_state(*s);
  out << fmt::format("stack down; {} removed\n", dir.string());
  return 0;
}

}  // namespace pgw::repro
