#include "pgwarden/core/faults_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "toml_reader.hpp"

namespace pgw {

namespace {

using detail::TableReader;

void read_toxic(TableReader& r, const toml::node& where, const ToxicCheck& check,
                FaultToxicConfig& t) {
  r.read("name", t.name);
  r.read("type", t.type);
  if (!r.get("type")) r.fail(where, fmt::format("'{}' is missing", r.key_name("type")));
  r.read("stream", t.stream);
  if (auto* n = r.get("toxicity")) {
    auto v = n->value<double>();  // an integer (0 or 1) converts too
    if (!v || *v < 0 || *v > 1)
      r.fail(*n, fmt::format("'{}' must be a number from 0 to 1", r.key_name("toxicity")));
    t.toxicity = *v;
  }
  const toml::table* attrs = r.subtable("attributes");
  if (attrs) {
    for (auto&& [k, v] : *attrs) {
      if (!v.is_integer())
        r.fail(v, fmt::format("'{}.{}' must be an integer", r.key_name("attributes"), k.str()));
      t.attributes[std::string(k.str())] = v.value<int64_t>().value();
    }
  }
  r.reject_unknown();
  if (!check) return;
  auto problem = check(t);
  if (!problem) return;
  const toml::node* at = &where;
  const std::string& key = problem->key;
  if (key.starts_with("attributes.") && attrs) {
    if (auto* n = attrs->get(key.substr(11))) at = n;
  } else if (key == "attributes" && attrs) {
    at = r.get("attributes");
  } else if (!key.empty()) {
    if (auto* n = r.get(key)) at = n;
  }
  r.fail(*at, problem->key.empty() ? problem->message
                                   : fmt::format("'{}': {}", r.key_name(key), problem->message));
}

}  // namespace

std::optional<HostPort> parse_listen_address(std::string_view text) {
  std::string s(text);
  const bool any_port = s.ends_with(":0");
  if (any_port) s.back() = '1';  // parse_host_port refuses port 0
  auto hp = parse_host_port(s);
  if (!hp) return std::nullopt;
  if (any_port) hp->port = 0;
  if (text.starts_with(':')) hp->host = "127.0.0.1";
  return hp;
}

FaultsConfig parse_faults_config(std::string_view text, const std::string& source_name,
                                 const ToxicCheck& check) {
  toml::table root = detail::parse_toml(text, source_name);
  FaultsConfig cfg;
  cfg.source = source_name;
  TableReader top(root, source_name, "");
  if (auto* t = top.subtable("faults")) {
    TableReader r(*t, source_name, "faults");
    r.read("api", cfg.api);
    r.reject_unknown();
  }
  std::set<std::string> names;
  top.each_table("proxies", [&](TableReader& r, const toml::node& where) {
    FaultProxyConfig p;
    r.read("name", p.name);
    if (p.name.empty()) r.fail(where, fmt::format("'{}' is missing", r.key_name("name")));
    if (!names.insert(p.name).second)
      r.fail(*r.get("name"), fmt::format("proxy \"{}\" is declared twice", p.name));
    r.read("listen", p.listen);
    if (auto* n = r.get("listen"); n && !parse_listen_address(p.listen))
      r.fail(*n, fmt::format("'{}' must be a \"host:port\" string", r.key_name("listen")));
    r.read("upstream", p.upstream);
    if (p.upstream.empty()) r.fail(where, fmt::format("'{}' is missing", r.key_name("upstream")));
    if (!parse_host_port(p.upstream))
      r.fail(*r.get("upstream"),
             fmt::format("'{}' must be a \"host:port\" string", r.key_name("upstream")));
    r.read("enabled", p.enabled);
    std::set<std::string> toxic_names;
    r.each_table("toxics", [&](TableReader& tr, const toml::node& twhere) {
      FaultToxicConfig t;
      read_toxic(tr, twhere, check, t);
      if (!toxic_names.insert(t.name).second)
        tr.fail(twhere,
                fmt::format("toxic \"{}\" is declared twice in proxy \"{}\"", t.name, p.name));
      p.toxics.push_back(std::move(t));
    });
    r.reject_unknown();
    cfg.proxies.push_back(std::move(p));
  });
  if (auto* t = top.subtable("events")) {
    TableReader r(*t, source_name, "events");
    detail::read_events(r, cfg.events);
    r.reject_unknown();
  }
  top.reject_unknown();
  return cfg;
}

namespace {
std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t comma = s.find(',', start);
    parts.emplace_back(s.substr(start, comma - start));
    if (comma == std::string_view::npos) return parts;
    start = comma + 1;
  }
}

[[noreturn]] void flag_error(const char* flag, std::string_view value, const std::string& what) {
  throw ConfigError(fmt::format("{} \"{}\": {}", flag, value, what));
}

FaultToxicConfig toxic_from_flag(std::string_view flag, std::string& proxy,
                                 const ToxicCheck& check) {
  const std::vector<std::string> parts = split_commas(flag);
  if (parts.size() < 2 || parts[0].empty() || parts[1].empty())
    flag_error("--toxic", flag, "expected PROXY,TYPE[,KEY=VALUE...]");
  proxy = parts[0];
  FaultToxicConfig t;
  t.type = parts[1];
  for (size_t i = 2; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string::npos || eq == 0)
      flag_error("--toxic", flag, fmt::format("\"{}\" is not KEY=VALUE", parts[i]));
    const std::string key = parts[i].substr(0, eq), value = parts[i].substr(eq + 1);
    if (key == "name") {
      t.name = value;
    } else if (key == "stream") {
      t.stream = value;
    } else if (key == "toxicity") {
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || v < 0 || v > 1)
        flag_error("--toxic", flag, "toxicity must be a number from 0 to 1");
      t.toxicity = v;
    } else {
      char* end = nullptr;
      const long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0')
        flag_error("--toxic", flag, fmt::format("attribute {} must be an integer", key));
      t.attributes[key] = v;
    }
  }
  if (check) {
    if (auto problem = check(t))
      flag_error("--toxic", flag,
                 problem->key.empty() ? problem->message
                                      : fmt::format("{}: {}", problem->key, problem->message));
  }
  return t;
}
}  // namespace

void add_flag_proxies(FaultsConfig& cfg, const std::vector<std::string>& proxy_flags,
                      const std::vector<std::string>& toxic_flags, const ToxicCheck& check) {
  for (const std::string& flag : proxy_flags) {
    const std::vector<std::string> parts = split_commas(flag);
    if (parts.size() != 3 || parts[0].empty())
      flag_error("--proxy", flag, "expected NAME,LISTEN,UPSTREAM");
    for (const auto& p : cfg.proxies)
      if (p.name == parts[0])
        flag_error("--proxy", flag, fmt::format("proxy \"{}\" is declared twice", parts[0]));
    if (!parse_listen_address(parts[1]))
      flag_error("--proxy", flag, "LISTEN must be host:port (port 0: any free port)");
    if (!parse_host_port(parts[2])) flag_error("--proxy", flag, "UPSTREAM must be host:port");
    FaultProxyConfig p;
    p.name = parts[0];
    p.listen = parts[1];
    p.upstream = parts[2];
    cfg.proxies.push_back(std::move(p));
  }
  for (const std::string& flag : toxic_flags) {
    std::string proxy;
    FaultToxicConfig t = toxic_from_flag(flag, proxy, check);
    auto it = std::find_if(cfg.proxies.begin(), cfg.proxies.end(),
                           [&](const FaultProxyConfig& p) { return p.name == proxy; });
    if (it == cfg.proxies.end())
      flag_error("--toxic", flag,
                 fmt::format("no proxy \"{}\" (declare it with --proxy or in the config)", proxy));
    for (const auto& existing : it->toxics)
      if (existing.name == t.name)
        flag_error("--toxic", flag,
                   fmt::format("toxic \"{}\" is declared twice in proxy \"{}\"", t.name, proxy));
    it->toxics.push_back(std::move(t));
  }
}

FaultsConfig load_faults_config(const std::string& path, const ToxicCheck& check) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open config file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_faults_config(ss.str(), path, check);
}

}  // namespace pgw
