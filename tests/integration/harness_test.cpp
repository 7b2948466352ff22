// The harness itself: a real PostgreSQL 15 comes up on a free port, answers,
// and is gone (process and directory) afterwards.
#include <gtest/gtest.h>
#include <signal.h>

#include "pg_cluster.hpp"

using pgw::test::PgCluster;

TEST(Harness, StartsAndStopsARealServer) {
  std::filesystem::path dir;
  pid_t pid = 0;
  {
    PgCluster pg({.settings = {{"max_connections", "17"}}});
    dir = pg.data_dir();
    pid = pg.pid();
    EXPECT_GT(pid, 0);
    EXPECT_EQ(pg.psql("show max_connections"), "17");
    EXPECT_EQ(pg.psql("select split_part(version(), ' ', 2) like '15.%'"), "t");
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(pgw::test::process_alive(pid));
}
