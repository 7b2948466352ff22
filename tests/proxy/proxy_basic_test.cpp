// The proxy with real clients: libpq, psql and pgbench, in both pool modes.
#include <sys/socket.h>

#include <thread>

#include "stack.hpp"

using namespace pgw::test;

namespace {
std::string run(const std::string& cmd) {
  std::string out;
  run_command(cmd + " 2>&1", &out);
  return out;
}
}  // namespace

class Basic : public ProxyTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(Basic, PsqlQueriesAndCopyRoundTrip) {
  start_proxy("", GetParam());
  std::string base = "PGPASSWORD=app-pw psql -X -q -A -t -h 127.0.0.1 -p " +
                     std::to_string(proxy().port()) + " -U app -d app ";
  EXPECT_EQ(run(base + "-c 'select 40 + 2'"), "42\n");
  // COPY in and out through the proxy.
  std::string copy_in = "printf '1\\tone\\n2\\ttwo\\n3\\tthree\\n' | " + base +
                        "-c 'truncate items' -c '\\copy items from stdin'";
  run(copy_in);
  EXPECT_EQ(run(base + "-c 'select count(*) from items'"), "3\n");
  EXPECT_EQ(run(base + "-c '\\copy (select note from items order by id) to stdout'"),
            "one\ntwo\nthree\n");
  EXPECT_EQ(run(base + "-c \"select current_setting('application_name')\""), "psql\n");
}

TEST_P(Basic, PgbenchSimpleExtendedPreparedAndReconnect) {
  // Transaction mode multiplexes 8 clients over 5 servers. Session mode needs
  // one server per client: pgbench prepares synchronously, so a client waiting
  // for a server would block the thread that drives the clients holding them.
  start_proxy(GetParam() == "transaction" ? "default_pool_size = 5\n" : "default_pool_size = 8\n",
              GetParam());
  std::string init = "PGPASSWORD=app-pw pgbench -i -q -s 1 -h 127.0.0.1 -p " +
                     std::to_string(pg().port()) + " -U app app";
  ASSERT_EQ(run_command(init + " >/dev/null 2>&1"), 0);
  for (std::string m : {"simple", "extended", "prepared"}) {
    std::string out = run("PGPASSWORD=app-pw timeout 120 pgbench -n -S -t 200 -c 8 -j 2 -M " + m +
                          " -h 127.0.0.1 -p " + std::to_string(proxy().port()) + " -U app app");
    EXPECT_NE(out.find("number of transactions actually processed: 1600/1600"), std::string::npos)
        << m << ": " << out;
    EXPECT_NE(out.find("number of failed transactions: 0"), std::string::npos) << m << ": " << out;
  }
  std::string out =
      run("PGPASSWORD=app-pw timeout 120 pgbench -n -S -t 20 -c 4 -C -h 127.0.0.1 -p " +
          std::to_string(proxy().port()) + " -U app app");
  EXPECT_NE(out.find("actually processed: 80/80"), std::string::npos) << out;
  // Every pgbench connection was accounted for, with a clean close.
  int opens = 0, clean = 0;
  std::string others;
  for (auto& e : proxy().settled_events()) {
    if (e["event"] == "client.open") ++opens;
    if (e["event"] != "client.close" || e["state"] == "authenticating") continue;
    if (e["cause"] == "client_terminate")
      ++clean;
    else
      others += e.dump() + "\n";
  }
  EXPECT_GE(opens, 3 * 8 + 80);
  EXPECT_EQ(clean, opens) << others;
}

INSTANTIATE_TEST_SUITE_P(Modes, Basic, ::testing::Values("transaction", "session"));

TEST_F(ProxyTest, TransactionModeKeepsEachClientsParameters) {
  start_proxy("default_pool_size = 1\n");
  auto a = client("application_name=alpha options='-c statement_timeout=4321'");
  auto b = client("application_name=beta");
  ASSERT_EQ(PQstatus(a.get()), CONNECTION_OK) << PQerrorMessage(a.get());
  ASSERT_EQ(PQstatus(b.get()), CONNECTION_OK) << PQerrorMessage(b.get());
  ASSERT_TRUE(pq_exec(a.get(), "set timezone = 'Asia/Tokyo'").ok);
  // One server connection serves both clients in turn.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(pq_exec(a.get(), "select current_setting('application_name')").value, "alpha");
    EXPECT_EQ(pq_exec(b.get(), "select current_setting('application_name')").value, "beta");
    EXPECT_EQ(pq_exec(a.get(), "show timezone").value, "Asia/Tokyo");
    EXPECT_NE(pq_exec(b.get(), "show timezone").value, "Asia/Tokyo");
    EXPECT_EQ(pq_exec(a.get(), "show statement_timeout").value, "4321ms");
    EXPECT_EQ(pq_exec(b.get(), "show statement_timeout").value, "0");
  }
  EXPECT_STREQ(PQparameterStatus(a.get(), "TimeZone"), "Asia/Tokyo");
}

TEST_F(ProxyTest, WaitTimeoutNamesItsCauseAndKeepsTheConnection) {
  start_proxy("default_pool_size = 1\n[timeouts]\nquery_wait_timeout = \"1s\"\n");
  auto holder = client();
  auto waiter = client();
  ASSERT_TRUE(pq_exec(holder.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(holder.get(), "select 1").ok);
  auto r = pq_exec(waiter.get(), "select 2");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "53000");
  EXPECT_NE(r.message.find("query_wait_timeout (1s)"), std::string::npos) << r.message;
  auto ev = proxy().wait_event({{"event", "pool.timeout"}, {"cause", "query_wait_timeout"}});
  ASSERT_FALSE(ev.is_null());
  EXPECT_EQ(ev["client_impact"], "error_returned");
  ASSERT_TRUE(pq_exec(holder.get(), "commit").ok);
  auto again = pq_exec(waiter.get(), "select 3");
  EXPECT_TRUE(again.ok) << again.message;
  EXPECT_EQ(again.value, "3");
}

TEST_F(ProxyTest, CancelReachesTheRunningQueryOnly) {
  start_proxy("default_pool_size = 2\n");
  auto victim = client();
  auto bystander = client();
  ASSERT_TRUE(PQsendQuery(victim.get(), "select pg_sleep(20)"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(PQsendQuery(bystander.get(), "select pg_sleep(1), 'still here'"));
  auto start = std::chrono::steady_clock::now();
  PGcancel* cancel = PQgetCancel(victim.get());
  char err[256];
  ASSERT_TRUE(PQcancel(cancel, err, sizeof err)) << err;
  PQfreeCancel(cancel);
  PGresult* res = PQgetResult(victim.get());
  ASSERT_NE(res, nullptr);
  EXPECT_STREQ(PQresultErrorField(res, PG_DIAG_SQLSTATE), "57014");
  PQclear(res);
  while ((res = PQgetResult(victim.get()))) PQclear(res);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  res = PQgetResult(bystander.get());
  EXPECT_EQ(PQresultStatus(res), PGRES_TUPLES_OK);
  EXPECT_STREQ(PQgetvalue(res, 0, 1), "still here");
  PQclear(res);
  while ((res = PQgetResult(bystander.get()))) PQclear(res);
  EXPECT_EQ(pq_exec(victim.get(), "select 'usable'").value, "usable");
}

TEST_F(ProxyTest, ClientVanishingMidTransactionLeavesNothingDirty) {
  start_proxy("default_pool_size = 1\n");
  pg().psql("delete from items where id = 900", "app");
  {
    auto quitter = client();
    ASSERT_TRUE(pq_exec(quitter.get(), "begin").ok);
    ASSERT_TRUE(pq_exec(quitter.get(), "insert into items values (900, 'uncommitted')").ok);
    // Vanish without Terminate: shut the socket down under libpq.
    ::shutdown(PQsocket(quitter.get()), SHUT_RDWR);
  }
  auto next = client();
  // The only server connection was rolled back before anyone else got it.
  auto r = pq_exec(next.get(), "select count(*) from items where id = 900");
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.value, "0");
  EXPECT_EQ(pq_exec(next.get(), "select now() = statement_timestamp()").value, "t");
  auto ev = proxy().wait_event(
      {{"event", "client.close"}, {"cause", "client_eof"}, {"state", "in_transaction"}});
  ASSERT_FALSE(ev.is_null());
  EXPECT_EQ(ev["initiator"], "client");
}
