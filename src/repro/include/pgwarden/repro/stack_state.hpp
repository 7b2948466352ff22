#pragma once
// The local stack's state file (<dir>/stack.json): every component's PID,
// ports and paths, and the connection strings derived from them.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgw::repro {

struct StackComponent {
  std::string name;  // postgres, redis, proxy, faults
  pid_t pid = 0;
  int stop_signal = 15;              // SIGTERM; PostgreSQL and the proxy: SIGINT
  std::map<std::string, int> ports;  // e.g. {"postgres": 5432}; faults: api, pg, redis
  std::filesystem::path dir;         // the component's directory under the state dir
  std::filesystem::path log;
  std::filesystem::path data_dir;  // PostgreSQL only
};

struct StackState {
  std::filesystem::path dir;
  std::string database = "app";
  std::string user = "app";
  std::string password = "app";
  std::string superuser = "postgres";
  std::string superuser_password = "postgres";
  std::vector<StackComponent> components;

  const StackComponent* find(const std::string& name) const;
  int port(const std::string& component, const std::string& port_name) const;  // 0 if absent
};

std::filesystem::path state_file(const std::filesystem::path& dir);
void save_state(const StackState& s);
// nullopt when the file does not exist; throws std::runtime_error when unreadable.
std::optional<StackState> load_state(const std::filesystem::path& dir);

// `NAME=value` lines an app can source: DATABASE_URL (through the fault relay
// in front of the proxy), DATABASE_URL_PROXY, DATABASE_URL_DIRECT,
// DATABASE_URL_STANDBY (with --standby), REDIS_URL
// (through the relay), REDIS_URL_DIRECT, PGWARDEN_ADMIN_URL, PGWARDEN_FAULTS_URL.
std::vector<std::pair<std::string, std::string>> stack_env(const StackState& s);

}  // namespace pgw::repro
