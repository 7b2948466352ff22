#include "pgwarden/faults/toxics.hpp"

#include <algorithm>

namespace pgw::faults {

const char* to_string(Stream s) {
  return s == Stream::upstream ? "upstream" : "downstream";
}

std::optional<Stream> parse_stream(std::string_view text) {
  if (text == "upstream") return Stream::upstream;
  if (text == "downstream") return Stream::downstream;
  return std::nullopt;
}

int64_t ToxicSpec::attr(const std::string& key) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? 0 : it->second;
}

namespace {
const std::map<std::string, std::vector<std::string>, std::less<>>& catalogue() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> c{
      {"latency", {"latency", "jitter"}},
      {"bandwidth", {"rate"}},
      {"slow_close", {"delay"}},
      {"timeout", {"timeout"}},
      {"reset_peer", {"timeout"}},
      {"slicer", {"average_size", "size_variation", "delay"}},
      {"limit_data", {"bytes"}},
      {"idle_cut", {"idle"}},
      {"pg_too_many_connections", {}},
      {"pg_starting_up", {}},
      {"pg_auth_failed", {}},
      {"pg_kill_mid_query", {"delay"}},
      {"pg_kill_in_transaction", {"delay"}},
      {"pg_terminate_idle", {"idle"}},
      {"pg_stall_replication", {}},
  };
  return c;
}
}  // namespace

const std::vector<std::string>& toxic_types() {
  static const std::vector<std::string> types{"latency",
                                              "bandwidth",
                                              "slow_close",
                                              "timeout",
                                              "reset_peer",
                                              "slicer",
                                              "limit_data",
                                              "idle_cut",
                                              "pg_too_many_connections",
                                              "pg_starting_up",
                                              "pg_auth_failed",
                                              "pg_kill_mid_query",
                                              "pg_kill_in_transaction",
                                              "pg_terminate_idle",
                                              "pg_stall_replication"};
  return types;
}

const std::vector<std::string>* toxic_attributes(std::string_view type) {
  auto it = catalogue().find(type);
  return it == catalogue().end() ? nullptr : &it->second;
}

std::optional<SpecProblem> check_toxic(ToxicSpec& spec) {
  const auto* names = toxic_attributes(spec.type);
  if (!names) return SpecProblem{"type", "invalid toxic type \"" + spec.type + "\""};
  if (!(spec.toxicity >= 0 && spec.toxicity <= 1))
    return SpecProblem{"toxicity", "toxicity must be between 0 and 1"};
  for (const auto& [key, value] : spec.attributes) {
    if (std::find(names->begin(), names->end(), key) == names->end())
      return SpecProblem{"attributes." + key,
                         "unknown attribute \"" + key + "\" for a " + spec.type + " toxic"};
    if (value < 0) return SpecProblem{"attributes." + key, "must not be negative"};
  }
  for (const auto& key : *names) spec.attributes.try_emplace(key, 0);
  if (spec.name.empty()) spec.name = spec.type + "_" + to_string(spec.stream);
  return std::nullopt;
}

std::optional<ToxicProblem> toxic_from_config(const FaultToxicConfig& t, ToxicSpec& spec) {
  auto stream = parse_stream(t.stream);
  if (!stream) return ToxicProblem{"stream", "must be \"upstream\" or \"downstream\""};
  spec.name = t.name;
  spec.type = t.type;
  spec.stream = *stream;
  spec.toxicity = t.toxicity;
  spec.attributes = t.attributes;
  if (auto problem = check_toxic(spec)) return ToxicProblem{problem->key, problem->message};
  return std::nullopt;
}

std::optional<ToxicProblem> check_toxic_config(FaultToxicConfig& t) {
  ToxicSpec spec;
  if (auto problem = toxic_from_config(t, spec)) return problem;
  t.name = spec.name;
  t.attributes = spec.attributes;
  return std::nullopt;
}

std::optional<LoginFatal> login_fatal(std::string_view type, const std::string& user) {
  if (type == "pg_too_many_connections")
    return LoginFatal{"53300", "sorry, too many clients already"};
  if (type == "pg_starting_up") return LoginFatal{"57P03", "the database system is starting up"};
  if (type == "pg_auth_failed")
    return LoginFatal{"28P01", "password authentication failed for user \"" + user + "\""};
  return std::nullopt;
}

bool toxicity_draw(double toxicity, std::mt19937_64& rng) {
  if (toxicity >= 1) return true;
  if (toxicity <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(rng) < toxicity;
}

std::chrono::milliseconds latency_delay(int64_t latency_ms, int64_t jitter_ms,
                                        std::mt19937_64& rng) {
  int64_t d = latency_ms;
  if (jitter_ms > 0) d += std::uniform_int_distribution<int64_t>(-jitter_ms, jitter_ms - 1)(rng);
  return std::chrono::milliseconds(std::max<int64_t>(d, 0));
}

std::vector<size_t> slice_sizes(size_t len, size_t average, size_t variation,
                                std::mt19937_64& rng) {
  std::vector<size_t> out;
  if (len == 0) return out;
  const size_t bound = average + variation;
  if (average == 0) {
    out.push_back(len);
    return out;
  }
  // Depth-first over a stack of pieces still too long, keeping byte order.
  std::vector<size_t> todo{len};
  while (!todo.empty()) {
    size_t piece = todo.back();
    todo.pop_back();
    if (piece <= bound) {
      out.push_back(piece);
      continue;
    }
    auto half = static_cast<int64_t>(piece / 2);
    int64_t shift = 0;
    if (variation > 0) {
      auto v = static_cast<int64_t>(variation);
      shift = std::uniform_int_distribution<int64_t>(-v, v)(rng);
    }
    // Both halves at least 1 byte.
    int64_t left = std::clamp<int64_t>(half + shift, 1, static_cast<int64_t>(piece) - 1);
    todo.push_back(piece - static_cast<size_t>(left));  // right, done after left
    todo.push_back(static_cast<size_t>(left));
  }
  return out;
}

std::vector<PacedPiece> bandwidth_schedule(size_t len, int64_t rate_kb_per_s) {
  std::vector<PacedPiece> out;
  if (rate_kb_per_s <= 0 || len == 0) return out;
  const auto bytes_per_s = static_cast<uint64_t>(rate_kb_per_s) * 1000;
  const size_t max_piece = static_cast<size_t>(rate_kb_per_s) * 100;
  for (size_t left = len; left > 0;) {
    size_t n = std::min(left, max_piece);
    out.push_back({n, std::chrono::microseconds(n * 1'000'000 / bytes_per_s)});
    left -= n;
  }
  return out;
}

size_t DataLimit::admit(size_t n) {
  auto take = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
  remaining_ -= take;
  return take;
}

}  // namespace pgw::faults
