#pragma once
// How each component of the local stack is configured, started and found
// ready. Each start_* call appends its component to the state (with its PID
// as soon as there is one, so a failure can stop it) and returns when the
// component answers, or throws ComponentError.
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include "pgwarden/repro/stack_state.hpp"

namespace pgw::repro {

struct ComponentError : std::runtime_error {
  ComponentError(std::string component_name, const std::string& why, std::filesystem::path log_path)
      : std::runtime_error(why), component(std::move(component_name)), log(std::move(log_path)) {}
  std::string component;
  std::filesystem::path log;  // empty when there is none yet
};

// Called whenever a component got a PID, so the state file names it at once.
using StateChanged = std::function<void(const StackState&)>;

struct StackTools {
  std::filesystem::path pg_bin;  // initdb, pg_ctl, psql
  std::filesystem::path redis_server;
  std::filesystem::path pgwarden;  // this binary
};
// Finds the Debian packages' binaries; throws ComponentError naming what is missing.
StackTools find_stack_tools();

void start_postgres(StackState& s, const StackTools& tools, const StateChanged& changed);
// A streaming standby of the primary (pg_basebackup -R).
void start_standby(StackState& s, const StackTools& tools, const StateChanged& changed);
void start_redis(StackState& s, const StackTools& tools, const StateChanged& changed);
void start_proxy(StackState& s, const StackTools& tools, const StateChanged& changed);
void start_faults(StackState& s, const StackTools& tools, const StateChanged& changed);

}  // namespace pgw::repro
