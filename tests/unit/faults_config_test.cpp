// `pgwarden faults --config`: the TOML reader (src/core/faults_config.cpp)
// with the toxic rules of src/faults, as cmd_faults wires them.
#include <gtest/gtest.h>

#include "pgwarden/core/faults_config.hpp"
#include "pgwarden/faults/toxics.hpp"

using namespace pgw;

namespace {

const ToxicCheck check = faults::check_toxic_config;

std::string error_of(const std::string& text) {
  try {
    parse_faults_config(text, "f.toml", check);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(FaultsConfig, ReadsProxiesWithTheirToxics) {
  auto cfg = parse_faults_config(R"(
[faults]
api = "127.0.0.1:9474"

[[proxies]]
name = "pg"
listen = "127.0.0.1:25432"
upstream = "127.0.0.1:5432"

[[proxies.toxics]]
type = "latency"
attributes = { latency = 100, jitter = 10 }

[[proxies.toxics]]
name = "cut"
type = "limit_data"
stream = "upstream"
toxicity = 0.5
attributes = { bytes = 1000 }

[[proxies]]
name = "redis"
upstream = "localhost:6379"
enabled = false

[[events.sink]]
type = "stdout"
)",
                                 "f.toml", check);
  ASSERT_TRUE(cfg.api);
  EXPECT_EQ(cfg.api->port, 9474);
  ASSERT_EQ(cfg.proxies.size(), 2u);
  const auto& pg = cfg.proxies[0];
  EXPECT_EQ(pg.listen, "127.0.0.1:25432");
  ASSERT_EQ(pg.toxics.size(), 2u);
  EXPECT_EQ(pg.toxics[0].name, "latency_downstream");
  EXPECT_EQ(pg.toxics[0].attributes.at("jitter"), 10);
  EXPECT_EQ(pg.toxics[1].name, "cut");
  EXPECT_EQ(pg.toxics[1].stream, "upstream");
  EXPECT_DOUBLE_EQ(pg.toxics[1].toxicity, 0.5);
  EXPECT_EQ(cfg.proxies[1].listen, "127.0.0.1:0");
  EXPECT_FALSE(cfg.proxies[1].enabled);
  EXPECT_EQ(cfg.events.sinks.size(), 1u);
}

TEST(FaultsConfig, ErrorsGiveFileLineAndColumnOfTheOffendingValue) {
  const std::string head = "[[proxies]]\nname = \"pg\"\nupstream = \"127.0.0.1:5432\"\n";
  EXPECT_EQ(error_of(head + "[[proxies.toxics]]\ntype = \"lag\"\n"),
            "f.toml:5:8: 'proxies[0].toxics[0].type': invalid toxic type \"lag\"");
  EXPECT_EQ(
      error_of(head + "[[proxies.toxics]]\ntype = \"latency\"\nattributes = { latency = -5 }\n"),
      "f.toml:6:26: 'proxies[0].toxics[0].attributes.latency': must not be negative");
  EXPECT_EQ(error_of(head + "[[proxies.toxics]]\ntype = \"latency\"\nstream = \"sideways\"\n"),
            "f.toml:6:10: 'proxies[0].toxics[0].stream': must be \"upstream\" or \"downstream\"");
  EXPECT_EQ(error_of(head + "[[proxies.toxics]]\ntype = \"timeout\"\ntoxicity = 2.0\n"),
            "f.toml:6:12: 'proxies[0].toxics[0].toxicity' must be a number from 0 to 1");
  EXPECT_EQ(error_of(head + "lisen = \"x\"\n"), "f.toml:4:9: unknown key 'proxies[0].lisen'");
  EXPECT_EQ(error_of("[[proxies]]\nname = \"pg\"\n"),
            "f.toml:1:1: 'proxies[0].upstream' is missing");
  EXPECT_EQ(error_of(head + head), "f.toml:5:8: proxy \"pg\" is declared twice");
  EXPECT_EQ(error_of("[[proxies]\n"), error_of("[[proxies]\n"));
  EXPECT_NE(error_of("[[proxies]\n").find("f.toml:1:"), std::string::npos);
}

TEST(FaultsConfig, ListenAddressesMayAskForAnyPort) {
  auto any = parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->port, 0);
  EXPECT_EQ(any->host, "127.0.0.1");
  EXPECT_EQ(parse_listen_address(":25432")->host, "127.0.0.1");
  EXPECT_EQ(parse_listen_address("[::1]:7")->host, "::1");
  EXPECT_FALSE(parse_listen_address("nowhere"));
  EXPECT_FALSE(parse_listen_address("h:70000"));
}

namespace {
std::string flag_error_of(const std::vector<std::string>& proxies,
                          const std::vector<std::string>& toxics) {
  FaultsConfig cfg;
  try {
    add_flag_proxies(cfg, proxies, toxics, check);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(FaultsFlags, ProxiesAndToxicsFromTheCommandLine) {
  FaultsConfig cfg = parse_faults_config(
      "[[proxies]]\nname = \"redis\"\nupstream = \"127.0.0.1:6379\"\n", "f.toml", check);
  add_flag_proxies(
      cfg, {"pg,127.0.0.1:0,127.0.0.1:5432"},
      {"pg,latency,latency=100,jitter=10", "pg,reset_peer,stream=upstream,toxicity=0.5",
       "redis,timeout,name=hang,timeout=0"},
      check);
  ASSERT_EQ(cfg.proxies.size(), 2u);
  const FaultProxyConfig& pg = cfg.proxies[1];
  EXPECT_EQ(pg.name, "pg");
  EXPECT_EQ(pg.listen, "127.0.0.1:0");
  EXPECT_EQ(pg.upstream, "127.0.0.1:5432");
  ASSERT_EQ(pg.toxics.size(), 2u);
  EXPECT_EQ(pg.toxics[0].name, "latency_downstream");  // Toxiproxy's default name
  EXPECT_EQ(pg.toxics[0].attributes.at("latency"), 100);
  EXPECT_EQ(pg.toxics[0].attributes.at("jitter"), 10);
  EXPECT_EQ(pg.toxics[1].stream, "upstream");
  EXPECT_DOUBLE_EQ(pg.toxics[1].toxicity, 0.5);
  ASSERT_EQ(cfg.proxies[0].toxics.size(), 1u);  // the config file's proxy takes one too
  EXPECT_EQ(cfg.proxies[0].toxics[0].name, "hang");
}

TEST(FaultsFlags, EachMistakeNamesTheFlag) {
  EXPECT_EQ(flag_error_of({"pg,127.0.0.1:1"}, {}),
            "--proxy \"pg,127.0.0.1:1\": expected NAME,LISTEN,UPSTREAM");
  EXPECT_EQ(flag_error_of({"pg,nowhere,127.0.0.1:5432"}, {}),
            "--proxy \"pg,nowhere,127.0.0.1:5432\": LISTEN must be host:port (port 0: any free "
            "port)");
  EXPECT_EQ(flag_error_of({"pg,:0,127.0.0.1:1", "pg,:0,127.0.0.1:2"}, {}),
            "--proxy \"pg,:0,127.0.0.1:2\": proxy \"pg\" is declared twice");
  EXPECT_EQ(flag_error_of({}, {"pg,latency"}),
            "--toxic \"pg,latency\": no proxy \"pg\" (declare it with --proxy or in the config)");
  EXPECT_EQ(flag_error_of({"pg,:0,127.0.0.1:1"}, {"pg"}),
            "--toxic \"pg\": expected PROXY,TYPE[,KEY=VALUE...]");
  EXPECT_EQ(flag_error_of({"pg,:0,127.0.0.1:1"}, {"pg,latency,latency=fast"}),
            "--toxic \"pg,latency,latency=fast\": attribute latency must be an integer");
  EXPECT_EQ(flag_error_of({"pg,:0,127.0.0.1:1"}, {"pg,latency,toxicity=2"}),
            "--toxic \"pg,latency,toxicity=2\": toxicity must be a number from 0 to 1");
  EXPECT_EQ(flag_error_of({"pg,:0,127.0.0.1:1"}, {"pg,latency,latency"}),
            "--toxic \"pg,latency,latency\": \"latency\" is not KEY=VALUE");
  EXPECT_NE(
      flag_error_of({"pg,:0,127.0.0.1:1"}, {"pg,warp_drive"}).find("--toxic \"pg,warp_drive\": "),
      std::string::npos);
  EXPECT_EQ(flag_error_of({"pg,:0,127.0.0.1:1"}, {"pg,latency", "pg,latency,latency=5"}),
            "--toxic \"pg,latency,latency=5\": toxic \"latency_downstream\" is declared twice in "
            "proxy \"pg\"");
}
