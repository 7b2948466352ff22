#pragma once
// Helpers shared by the logs integration tests: run the pgwarden binary, read
// its JSON report, count classes.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "pg_cluster.hpp"

namespace pgw::test {

inline std::string pgwarden_bin() {
  const char* b = std::getenv("PGWARDEN_BIN");
  return b ? b : PGWARDEN_LOGS_BIN;
}

inline std::string source_dir() {
  const char* s = std::getenv("PGWARDEN_SOURCE_DIR");
  return s ? s : PGWARDEN_LOGS_SOURCE_DIR;
}

struct Result {
  int code = -1;
  std::string out;
};

// Runs `pgwarden logs <args>` (bounded by `timeout`), stdout captured.
inline Result run_logs(const std::string& args, int seconds = 60) {
  Result r;
  r.code = run_command("timeout " + std::to_string(seconds) + " " + pgwarden_bin() + " logs " +
                           args + " 2>/dev/null",
                       &r.out);
  return r;
}

inline nlohmann::json report(const std::string& args) {
  Result r = run_logs("--output json " + args);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return nlohmann::json::object({{"parse_error", r.out}});
  j["exit_code"] = r.code;
  return j;
}

inline uint64_t class_count(const nlohmann::json& rep, const std::string& cls) {
  if (!rep.contains("classes")) return 0;
  for (const auto& c : rep["classes"]) {
    if (c["class"] == cls) return c["count"].get<uint64_t>();
  }
  return 0;
}

inline uint64_t dim_count(const nlohmann::json& rep, const std::string& dim, const std::string& key,
                          const std::string& cls) {
  std::string k = "by_" + dim;
  if (!rep.contains(k) || !rep[k].contains(key) || !rep[k][key].contains(cls)) return 0;
  return rep[k][key][cls].get<uint64_t>();
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A temp dir removed on scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/pgwarden-logs-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace pgw::test
