// The audit model's small behaviours: severity and driver names, and the
// server snapshot's typed reads of settings (with ALTER ROLE overrides).
#include <fmt/format.h>

#include <charconv>

#include "pgwarden/audit/model.hpp"
#include "pgwarden/audit/rules.hpp"

namespace pgw::audit {

const char* to_string(Severity s) {
  switch (s) {
    case Severity::info:
      return "info";
    case Severity::warning:
      return "warning";
    case Severity::error:
      return "error";
  }
  return "?";
}

std::optional<Severity> parse_severity(std::string_view s) {
  if (s == "info") return Severity::info;
  if (s == "warning") return Severity::warning;
  if (s == "error") return Severity::error;
  return std::nullopt;
}

const char* to_string(Driver d) {
  switch (d) {
    case Driver::unknown:
      return "unknown";
    case Driver::node_postgres:
      return "pg";
    case Driver::postgres_js:
      return "postgres";
    case Driver::zero:
      return "zero";
  }
  return "?";
}

const Setting* ServerSnapshot::get(const std::string& name) const {
  auto it = settings.find(name);
  return it == settings.end() ? nullptr : &it->second;
}

std::optional<std::string> ServerSnapshot::text(const std::string& name) const {
  if (auto* s = get(name)) return s->value;
  return std::nullopt;
}

std::optional<long long> ServerSnapshot::integer(const std::string& name) const {
  auto* s = get(name);
  if (!s) return std::nullopt;
  long long v = 0;
  auto [p, ec] = std::from_chars(s->value.data(), s->value.data() + s->value.size(), v);
  if (ec != std::errc{}) return std::nullopt;
  (void)p;
  return v;
}

std::optional<long long> ServerSnapshot::bytes(const std::string& name) const {
  auto v = integer(name);
  auto* s = get(name);
  if (!v || !s) return std::nullopt;
  if (*v < 0) return v;
  const std::string& u = s->unit;
  long long f = 1;
  if (u == "8kB")
    f = 8192;
  else if (u == "kB")
    f = 1024;
  else if (u == "MB")
    f = 1024 * 1024;
  else if (u == "16MB")
    f = 16LL * 1024 * 1024;
  return *v * f;
}

std::optional<long long> ServerSnapshot::millis(const std::string& name) const {
  auto v = integer(name);
  auto* s = get(name);
  if (!v || !s) return std::nullopt;
  if (*v <= 0) return v;
  if (s->unit == "s") return *v * 1000;
  if (s->unit == "min") return *v * 60'000;
  return v;
}

namespace {
// A GUC time value as ALTER ROLE stores it: "30s", "1min", "500" (bare = ms for these settings).
std::optional<long long> guc_millis(const std::string& v) {
  long long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{}) return std::nullopt;
  std::string unit(p, v.data() + v.size());
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  if (unit.empty() || unit == "ms") return n;
  if (unit == "s") return n * 1000;
  if (unit == "min") return n * 60'000;
  if (unit == "h") return n * 3'600'000;
  if (unit == "d") return n * 86'400'000;
  return std::nullopt;
}
}  // namespace

std::optional<long long> ServerSnapshot::millis_for(const std::string& name,
                                                    const std::string& role,
                                                    const std::string& database) const {
  const RoleSetting* best = nullptr;
  int best_rank = 0;
  for (auto& r : role_settings) {
    if (r.name != name) continue;
    int rank = 0;
    if (!r.role.empty() && r.role == role && !r.database.empty() && r.database == database)
      rank = 3;
    else if (!r.role.empty() && r.role == role && r.database.empty())
      rank = 2;
    else if (r.role.empty() && !r.database.empty() && r.database == database)
      rank = 1;
    if (rank > best_rank) {
      best_rank = rank;
      best = &r;
    }
  }
  if (best)
    if (auto v = guc_millis(best->value)) return v;
  return millis(name);
}

std::string ServerSnapshot::overridden_by(const std::string& name) const {
  std::vector<std::string> who;
  for (auto& r : role_settings)
    if (r.name == name)
      who.push_back(fmt::format("{}@{} = {}", r.role.empty() ? "*" : r.role,
                                r.database.empty() ? "*" : r.database, r.value));
  return fmt::format("{}", fmt::join(who, ", "));
}

}  // namespace pgw::audit
