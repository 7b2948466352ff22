// SIGTERM drains: every client hears why it is disconnected, open
// transactions get their grace, new logins are told to come back later.
#include <signal.h>

#include <thread>

#include "stack.hpp"

using namespace pgw::test;

TEST_F(ProxyTest, SigtermDrainsIdleClientsAndLetsTransactionsFinish) {
  start_proxy("[timeouts]\nshutdown_grace = \"20s\"\n");
  auto idle = client();
  auto in_tx = client();
  ASSERT_TRUE(pq_exec(idle.get(), "select 1").ok);
  ASSERT_TRUE(pq_exec(in_tx.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(in_tx.get(), "insert into items values (9201, 'in grace')").ok);
  ASSERT_EQ(::kill(proxy().pid(), SIGTERM), 0);

  // The idle client is told at once, with a reason.
  auto ev = proxy().wait_event(
      {{"event", "client.close"}, {"cause", "proxy_shutdown"}, {"state", "idle"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["sqlstate"], "57P01");
  auto r = pq_exec(idle.get(), "select 1");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("pgwarden is shutting down"), std::string::npos) << r.message;

  // A new login is refused like a server that is shutting down.
  auto late = client();
  EXPECT_EQ(PQstatus(late.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(late.get())).find("the database system is shutting down"),
            std::string::npos)
      << PQerrorMessage(late.get());
  auto refused = proxy().wait_event(
      {{"event", "client.close"}, {"cause", "proxy_shutdown"}, {"sqlstate", "57P03"}});
  EXPECT_TRUE(refused.is_object());

  // The transaction finishes and commits; then that client is told too.
  ASSERT_TRUE(pq_exec(in_tx.get(), "insert into items values (9202, 'in grace')").ok);
  ASSERT_TRUE(pq_exec(in_tx.get(), "commit").ok);
  EXPECT_EQ(pg().psql("select count(*) from items where id in (9201, 9202)", "app"), "2");
  EXPECT_TRUE(proxy().exited_within(5));
  r = pq_exec(in_tx.get(), "select 1");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("pgwarden is shutting down"), std::string::npos) << r.message;
}

TEST_F(ProxyTest, ShutdownGraceEndsWithANamedFatal) {
  start_proxy("[timeouts]\nshutdown_grace = \"1s\"\n");
  auto in_tx = client();
  ASSERT_TRUE(pq_exec(in_tx.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(in_tx.get(), "insert into items values (9203, 'too slow')").ok);
  ASSERT_EQ(::kill(proxy().pid(), SIGTERM), 0);
  auto ev = proxy().wait_event(
      {{"event", "client.close"}, {"cause", "proxy_shutdown"}, {"state", "in_transaction"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["sqlstate"], "57P01");
  EXPECT_NE(ev["message"].get<std::string>().find("shutdown_grace (1s)"), std::string::npos);
  auto r = pq_exec(in_tx.get(), "commit");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("shutdown_grace (1s) has passed"), std::string::npos) << r.message;
  EXPECT_TRUE(proxy().exited_within(5));
  EXPECT_EQ(pg().psql("select count(*) from items where id = 9203", "app"), "0");
}

TEST_F(ProxyTest, SecondSigtermStopsAtOnce) {
  start_proxy("[timeouts]\nshutdown_grace = \"60s\"\n");
  auto in_tx = client();
  ASSERT_TRUE(pq_exec(in_tx.get(), "begin").ok);
  ASSERT_EQ(::kill(proxy().pid(), SIGTERM), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(proxy().exited_within(0.2));  // draining, waiting for the transaction
  ASSERT_EQ(::kill(proxy().pid(), SIGTERM), 0);
  EXPECT_TRUE(proxy().exited_within(3));
}
