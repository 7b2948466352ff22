#pragma once
// Shared fixture for proxy integration tests: one real PostgreSQL 15 per test
// binary, one `pgwarden proxy` process per test, libpq helpers.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>

#include "pg_cluster.hpp"
#include "proxy_process.hpp"

namespace pgw::test {

struct PgResult {
  bool ok = false;
  std::string sqlstate;
  std::string message;
  std::string value;  // first column of the first row
  int rows = 0;
};

using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;

Conn pq_connect(const std::string& conninfo);
PgResult pq_exec(PGconn* c, const std::string& sql);

// Everything an operator can read, as text: the console's SHOW outputs (as
// `admin_user`), /metrics and the admin API on `admin_port`.
std::string operator_views(const ProxyProcess& px, const std::string& admin_user,
                           const std::string& admin_pw, int admin_port);

class ProxyTest : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

 protected:
  static PgCluster& pg() { return *pg_; }
  // Starts pgwarden with [databases.app] → the test server's "app" database,
  // users app/app-pw and the given extra TOML.
  void start_proxy(const std::string& extra_toml, const std::string& mode = "transaction");
  Conn client(const std::string& extra = "");
  ProxyProcess& proxy() { return *proxy_; }
  // Waits (up to 20 s) for the server to accept connections again after a
  // crash restart; psql is refused while it recovers.
  static void wait_server_ready();

 private:
  static inline std::unique_ptr<PgCluster> pg_;
  std::unique_ptr<ProxyProcess> proxy_;
};

}  // namespace pgw::test
