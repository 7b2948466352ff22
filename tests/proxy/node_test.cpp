// The Node.js drivers the users run, with their default settings, through pgwarden.
#include "stack.hpp"

using namespace pgw::test;

namespace {
std::string node_script(const std::string& name, int port, int& status) {
  std::string dir = std::string(PGWARDEN_TESTS_NODE_DIR);
  std::string out;
  status = run_command("cd " + dir + " && PROXY_PORT=" + std::to_string(port) +
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
