// The Node.js drivers the users run, with their default settings, through pgwarden.
#include "stack.hpp"

using namespace pgw::test;

namespace {
std::string node_script(const std::string& name, int port, int& status,
                        const std::string& env = "") {
  std::string dir = std::string(PGWARDEN_TESTS_NODE_DIR);
  std::string out;
  status = run_command("cd " + dir + " && PROXY_PORT=" + std::to_string(port) + " " + env +
                           " timeout 120 node " + name + " 2>&1",
                       &out);
  return out;
}
}  // namespace

TEST_F(ProxyTest, NodePostgresDefaultPool) {
  start_proxy("default_pool_size = 3\n");
  int status = 0;
  std::string out = node_script("proxy_pg.mjs", proxy().port(), status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
}

TEST_F(ProxyTest, PostgresJsPreparedStatementsCancelCopy) {
  start_proxy("default_pool_size = 4\n");
  int status = 0;
  std::string out = node_script("proxy_postgresjs.mjs", proxy().port(), status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
  // 25 + 1 postgres.js clients logged in; none was cut off by the proxy.
  int opened = 0, dropped = 0;
  for (auto& e : proxy().settled_events()) {
    if (e["event"] == "client.open") ++opened;
    if (e["event"] == "client.close" && e["initiator"] == "proxy") ++dropped;
  }
  EXPECT_GE(opened, 26);
  EXPECT_EQ(dropped, 0);
}

TEST_F(ProxyTest, DriversGetAFatal57P03WhenNoServerAnswers) {
  const int dead = free_port();
  start_proxy("[databases.gone]\nhost = \"127.0.0.1\"\nport = " + std::to_string(dead) +
              "\ndbname = \"app\"\n");
  int status = 0;
  std::string out = node_script("proxy_unreachable.mjs", proxy().port(), status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
  // Six logins, six FATALs said so in the event stream, none a bare close.
  int told = 0;
  for (auto& e : proxy().settled_events())
    if (e["event"] == "client.close" && e.value("database", "") == "gone") {
      EXPECT_EQ(e.value("sqlstate", ""), "57P03") << e.dump();
      ++told;
    }
  EXPECT_EQ(told, 6);
}

// proxy_rescue.mjs through a proxy in a pool mode: five server links end under
// the drivers (four with work on them, one idle); no client connection does.
class DriverRescue : public ProxyTest {
 protected:
  void run(const std::string& mode, int idle_rescued) {
    start_proxy("default_pool_size = 4\n", mode);
    int status = 0;
    std::string out =
        node_script("proxy_rescue.mjs", proxy().port(), status, "PG_URL='" + pg().url("app") + "'");
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("ok"), std::string::npos) << out;
    int errors_returned = 0, rescued = 0, clients_dropped = 0;
    for (auto& e : proxy().settled_events()) {
      if (e["event"] == "server.close" && e.value("client_impact", "") == "error_returned")
        ++errors_returned;
      if (e["event"] == "server.close" && e.value("client_impact", "") == "rescued") ++rescued;
      if (e["event"] == "client.close" && e.value("initiator", "") != "client") ++clients_dropped;
    }
    EXPECT_EQ(errors_returned, 4);
    EXPECT_EQ(rescued, idle_rescued);
    EXPECT_EQ(clients_dropped, 0);
  }
};

TEST_F(DriverRescue, DriversKeepTheirConnectionsWhenTheServerEndsTheirLinks) {
  // The idle client's link was back in the pool: nobody was on it.
  run("transaction", 0);
}

TEST_F(DriverRescue, DriversInSessionModeKeepTheirConnectionsToo) {
  run("session", 1);
}
