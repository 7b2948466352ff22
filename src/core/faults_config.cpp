#include "pgwarden/core/faults_config.hpp"

#include <fmt/format.h>

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

FaultsConfig load_faults_config(const std::string& path, const ToxicCheck& check) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open config file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_faults_config(ss.str(), path, check);
}

}  // namespace pgw
