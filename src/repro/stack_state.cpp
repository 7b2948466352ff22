#include "pgwarden/repro/stack_state.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace pgw::repro {
namespace fs = std::filesystem;
using nlohmann::json;

const StackComponent* StackState::find(const std::string& name) const {
  for (const auto& c : components) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

int StackState::port(const std::string& component, const std::string& port_name) const {
  const StackComponent* c = find(component);
  if (!c) return 0;
  auto it = c->ports.find(port_name);
  return it == c->ports.end() ? 0 : it->second;
}

fs::path state_file(const fs::path& dir) {
  return dir / "stack.json";
}

void save_state(const StackState& s) {
  json j;
  j["dir"] = s.dir.string();
  j["database"] = s.database;
  j["user"] = s.user;
  j["password"] = s.password;
  j["superuser"] = s.superuser;
  j["superuser_password"] = s.superuser_password;
  j["components"] = json::array();
  for (const auto& c : s.components) {
    json cj{{"name", c.name},
            {"pid", c.pid},
            {"stop_signal", c.stop_signal},
            {"ports", c.ports},
            {"dir", c.dir.string()},
            {"log", c.log.string()},
            {"data_dir", c.data_dir.string()}};
    j["components"].push_back(cj);
  }
  const fs::path tmp = state_file(s.dir).string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, state_file(s.dir));  // readers never see half a file
}

std::optional<StackState> load_state(const fs::path& dir) {
  const fs::path file = state_file(dir);
  if (!fs::exists(file)) return std::nullopt;
  std::ifstream in(file);
  try {
    const json j = json::parse(in);
    StackState s;
    s.dir = j.at("dir").get<std::string>();
    s.database = j.at("database").get<std::string>();
    s.user = j.at("user").get<std::string>();
    s.password = j.at("password").get<std::string>();
    s.superuser = j.at("superuser").get<std::string>();
    s.superuser_password = j.at("superuser_password").get<std::string>();
    for (const auto& cj : j.at("components")) {
      StackComponent c;
      c.name = cj.at("name").get<std::string>();
      c.pid = cj.at("pid").get<pid_t>();
      c.stop_signal = cj.at("stop_signal").get<int>();
      c.ports = cj.at("ports").get<std::map<std::string, int>>();
      c.dir = cj.at("dir").get<std::string>();
      c.log = cj.at("log").get<std::string>();
      c.data_dir = cj.at("data_dir").get<std::string>();
      s.components.push_back(c);
    }
    return s;
  } catch (const json::exception& e) {
    throw std::runtime_error(
        fmt::format("{}: not a stack state file: {}", file.string(), e.what()));
  }
}

std::vector<std::pair<std::string, std::string>> stack_env(const StackState& s) {
  std::vector<std::pair<std::string, std::string>> env;
  auto pg_url = [&](int port) {
    return fmt::format("postgres://{}:{}@127.0.0.1:{}/{}", s.user, s.password, port, s.database);
  };
  auto add = [&](const char* name, int port, const std::string& value) {
    if (port > 0) env.emplace_back(name, value);
  };
  const int pg_relay = s.port("faults", "pg");
  const int proxy = s.port("proxy", "postgres");
  const int direct = s.port("postgres", "postgres");
  const int redis_relay = s.port("faults", "redis");
  const int redis = s.port("redis", "redis");
  const int admin = s.port("proxy", "admin");
  const int api = s.port("faults", "api");
  add("DATABASE_URL", pg_relay, pg_url(pg_relay));
  add("DATABASE_URL_PROXY", proxy, pg_url(proxy));
  add("DATABASE_URL_DIRECT", direct, pg_url(direct));
  const int standby = s.port("standby", "postgres");
  add("DATABASE_URL_STANDBY", standby, pg_url(standby));
  add("REDIS_URL", redis_relay, fmt::format("redis://127.0.0.1:{}", redis_relay));
  add("REDIS_URL_DIRECT", redis, fmt::format("redis://127.0.0.1:{}", redis));
  add("PGWARDEN_ADMIN_URL", admin, fmt::format("http://127.0.0.1:{}", admin));
  add("PGWARDEN_FAULTS_URL", api, fmt::format("http://127.0.0.1:{}", api));
  return env;
}

}  // namespace pgw::repro
