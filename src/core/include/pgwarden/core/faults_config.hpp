#pragma once
// What `pgwarden faults --config FILE` reads (TOML): the relay's API address,
// its proxies with the toxics each has at startup, and event sinks ([events],
// as the proxy's config has them). Errors are "FILE:LINE:COL: what"; what a
// toxic's type and attributes mean is checked by the caller's ToxicCheck
// (src/faults knows the toxics, core only reads them). docs/faults.md.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pgwarden/core/config.hpp"

namespace pgw {

struct FaultToxicConfig {
  std::string name;  // empty: the caller names it <type>_<stream>
  std::string type;
  std::string stream = "downstream";
  double toxicity = 1.0;
  std::map<std::string, int64_t> attributes;
};

struct FaultProxyConfig {
  std::string name;
  std::string listen = "127.0.0.1:0";
  std::string upstream;
  bool enabled = true;
  std::vector<FaultToxicConfig> toxics;
};

struct FaultsConfig {
  std::string source;
  std::optional<HostPort> api;  // [faults] api; --api wins
  std::vector<FaultProxyConfig> proxies;
  EventsConfig events;
};

// What is wrong with one toxic: `key` names the offending field ("type",
// "stream", "toxicity", "name" or "attributes.NAME"; empty = the whole table)
// so the error points at it. The check may fill defaults in.
struct ToxicProblem {
  std::string key;
  std::string message;
};
using ToxicCheck = std::function<std::optional<ToxicProblem>(FaultToxicConfig&)>;

// A relay listen address: "host:port" like parse_host_port, but port 0 (any
// free port) is allowed and an empty host means 127.0.0.1.
std::optional<HostPort> parse_listen_address(std::string_view text);

// Throw ConfigError.
FaultsConfig parse_faults_config(std::string_view text, const std::string& source_name,
                                 const ToxicCheck& check);
FaultsConfig load_faults_config(const std::string& path, const ToxicCheck& check);

// Proxies and toxics given as command-line flags, added to `cfg` (after the
// config file's): `--proxy NAME,LISTEN,UPSTREAM` and
// `--toxic PROXY,TYPE[,KEY=VALUE...]` where KEY is name, stream, toxicity or
// an attribute of the type. Throws ConfigError naming the flag.
void add_flag_proxies(FaultsConfig& cfg, const std::vector<std::string>& proxy_flags,
                      const std::vector<std::string>& toxic_flags, const ToxicCheck& check);

}  // namespace pgw
