// Which database serves a physical replication client.
#include <gtest/gtest.h>

#include "pgwarden/proxy/replication.hpp"

using namespace pgw;

TEST(PhysicalReplicationDatabase, NamedElseTheOnlyOneElseAsGiven) {
  ProxyConfig cfg;
  cfg.databases["app"] = {};
  EXPECT_EQ(proxy::physical_replication_database(cfg, "replication"), "app");
  EXPECT_EQ(proxy::physical_replication_database(cfg, "app"), "app");
  cfg.databases[cfg.admin.console_database] = {};  // the console is no server
  EXPECT_EQ(proxy::physical_replication_database(cfg, "replication"), "app");
  cfg.databases["other"] = {};
  EXPECT_EQ(proxy::physical_replication_database(cfg, "replication"), "replication");
  cfg.databases["replication"] = {};
  EXPECT_EQ(proxy::physical_replication_database(cfg, "replication"), "replication");
  EXPECT_EQ(proxy::physical_replication_database(cfg, "other"), "other");
}
