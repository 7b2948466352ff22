// A pooler must never run work a client abandoned, commit it for someone
// else, or lend a link whose state it does not know. Each test leaves a
// client in one protocol state against a pool of ONE server link, then checks
// what the next client sees and what the database finally holds (read
// directly from PostgreSQL, not through the proxy).
#include <algorithm>
#include <fstream>
#include <thread>

#include "pgwarden/wire/codec.hpp"
#include "raw_pg.hpp"
#include "stack.hpp"

using namespace pgw::test;

namespace {
const char* kOneLink =
    "auth_type = \"trust\"\ndefault_pool_size = 1\n[timeouts]\nquery_wait_timeout = \"20s\"\n";

int rows_with_id(PgCluster& pg, int id) {
  return std::stoi(pg.psql("select count(*) from items where id = " + std::to_string(id), "app"));
}
}  // namespace

// Parse/Bind/Execute/Flush without Sync leaves PostgreSQL's implicit
// transaction open; a client that leaves then must not have it committed by
// the next client's Sync or simple query.
TEST_F(ProxyTest, FlushWithoutSyncThenLeavingNeverCommits) {
  start_proxy(kOneLink);
  {
    RawPg a(proxy().port(), "app", "app");
    ASSERT_TRUE(a.ok());
    a.send(RawPg::parse("", "insert into items values (9101, 'abandoned')") + RawPg::bind("", "") +
           RawPg::execute() + RawPg::flush());
    auto got = a.read_until('C');
    ASSERT_EQ(types(got), "12C");
    a.vanish();
  }
  auto b = client();
  ASSERT_EQ(PQstatus(b.get()), CONNECTION_OK) << PQerrorMessage(b.get());
  EXPECT_EQ(pq_exec(b.get(), "select count(*) from items where id = 9101").value, "0");
  EXPECT_EQ(rows_with_id(pg(), 9101), 0);
  auto ev = proxy().wait_event({{"event", "server.close"}, {"cause", "client_gone_unsynced"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["initiator"], "proxy");
}

// After an error PostgreSQL skips the rest of the pipeline up to Sync,
// including a Parse: the statement must not be recorded as prepared there.
TEST_F(ProxyTest, ParseSkippedAfterPipelineErrorIsNotRemembered) {
  start_proxy(kOneLink);
  {
    RawPg a(proxy().port(), "app", "app");
    ASSERT_TRUE(a.ok());
    a.send(RawPg::parse("", "select 1/0") + RawPg::bind("", "") + RawPg::execute() +
           RawPg::parse("s2", "select 2") + RawPg::bind("", "s2") + RawPg::execute() +
           RawPg::sync());
    auto got = a.read_until('Z');
    EXPECT_EQ(first_sqlstate(got), "22012");
    // 1/0 fails while Bind plans it; nothing after the error but ReadyForQuery.
    EXPECT_EQ(types(got), "1EZ");
    // The skipped statement does not exist for this client either, as on PostgreSQL.
    a.send(RawPg::bind("", "s2") + RawPg::execute() + RawPg::sync());
    got = a.read_until('Z');
    EXPECT_EQ(first_sqlstate(got), "26000");
  }
  auto b = client();
  PGresult* prep = PQprepare(b.get(), "x", "select 2", 0, nullptr);
  EXPECT_EQ(PQresultStatus(prep), PGRES_COMMAND_OK) << PQresultErrorMessage(prep);
  PQclear(prep);
  PGresult* res = PQexecPrepared(b.get(), "x", 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(PQresultStatus(res), PGRES_TUPLES_OK) << PQresultErrorMessage(res);
  if (PQresultStatus(res) == PGRES_TUPLES_OK) {
    EXPECT_STREQ(PQgetvalue(res, 0, 0), "2");
  }
  PQclear(res);
}

// A client queued for the only link sends an INSERT and leaves: when the link
// frees, nothing it sent may run.
TEST_F(ProxyTest, QueuedClientThatLeavesRunsNothing) {
  start_proxy(kOneLink);
  auto holder = client();
  ASSERT_TRUE(pq_exec(holder.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(holder.get(), "select 1").ok);
  {
    RawPg a(proxy().port(), "app", "app");
    ASSERT_TRUE(a.ok());
    a.send(RawPg::query("insert into items values (9102, 'queued')"));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    a.vanish();
  }
  auto ev = proxy().wait_event({{"event", "client.close"}, {"cause", "client_gone_while_waiting"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_EQ(ev["initiator"], "client");
  EXPECT_EQ(ev["state"], "waiting_for_server");
  ASSERT_TRUE(pq_exec(holder.get(), "commit").ok);
  // The link is free again and serves the next client at once.
  EXPECT_EQ(pq_exec(holder.get(), "select 'next'").value, "next");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(rows_with_id(pg(), 9102), 0);
}

// A client that leaves mid-query gets its backend's query cancelled: the
// server stops working for nobody, and the link is not lent.
TEST_F(ProxyTest, ClientLeavingMidQueryCancelsTheBackend) {
  start_proxy(kOneLink);
  {
    RawPg a(proxy().port(), "app", "app");
    ASSERT_TRUE(a.ok());
    a.send(RawPg::query("select pg_sleep(30) /* abandoned */"));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    a.vanish();
  }
  auto ev = proxy().wait_event({{"event", "server.close"}, {"cause", "client_gone_mid_request"}});
  ASSERT_TRUE(ev.is_object());
  // The backend is no longer running the abandoned sleep.
  std::string running;
  for (int i = 0; i < 50; ++i) {
    running = pg().psql(
        "select count(*) from pg_stat_activity where query like '%abandoned%' and state = "
        "'active' and pid <> pg_backend_pid()");
    if (running == "0") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(running, "0");
  auto b = client();
  EXPECT_EQ(pq_exec(b.get(), "select 'fresh'").value, "fresh");
}

// A transaction left open is rolled back before the link is lent again.
TEST_F(ProxyTest, OpenTransactionOfDepartedClientIsRolledBack) {
  start_proxy(kOneLink);
  {
    RawPg a(proxy().port(), "app", "app");
    ASSERT_TRUE(a.ok());
    a.send(RawPg::query("begin; insert into items values (9103, 'open tx')"));
    auto got = a.read_until('Z');
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back().body, "T");
    a.vanish();
  }
  auto b = client();
  EXPECT_EQ(pq_exec(b.get(), "select count(*) from items where id = 9103").value, "0");
  EXPECT_EQ(pq_exec(b.get(), "select 'tx ok'").value, "tx ok");
  EXPECT_EQ(rows_with_id(pg(), 9103), 0);
}

// Prepared statements stay exact across clients sharing one link: names
// reused with other SQL, closed and prepared again, DEALLOCATE ALL, and
// eviction when max_prepared_statements is small.
TEST_F(ProxyTest, PreparedStatementsStayExactOnASharedLink) {
  start_proxy(std::string(kOneLink) + "\n");
  auto a = client();
  auto b = client();
  auto prepare_exec = [](PGconn* c, const char* name, const char* sql) -> std::string {
    PGresult* p = PQprepare(c, name, sql, 0, nullptr);
    std::string err = PQresultStatus(p) == PGRES_COMMAND_OK ? "" : PQresultErrorMessage(p);
    PQclear(p);
    if (!err.empty()) return "prepare: " + err;
    PGresult* r = PQexecPrepared(c, name, 0, nullptr, nullptr, nullptr, 0);
    std::string out = PQresultStatus(r) == PGRES_TUPLES_OK
                          ? PQgetvalue(r, 0, 0)
                          : "exec: " + std::string(PQresultErrorMessage(r));
    PQclear(r);
    return out;
  };
  EXPECT_EQ(prepare_exec(a.get(), "q", "select 'a1'"), "a1");
  EXPECT_EQ(prepare_exec(b.get(), "q", "select 'b1'"), "b1");  // same name, other SQL
  ASSERT_TRUE(pq_exec(a.get(), "deallocate all").ok);
  EXPECT_EQ(prepare_exec(a.get(), "q", "select 'a2'"), "a2");   // re-prepared after DEALLOCATE ALL
  EXPECT_EQ(prepare_exec(b.get(), "q2", "select 'b1'"), "b1");  // b's statement survives a's
  ASSERT_TRUE(pq_exec(b.get(), "discard all").ok);
  EXPECT_EQ(prepare_exec(b.get(), "q", "select 'b2'"), "b2");
  // Close, then prepare the same name with other SQL (libpq 15 has no Close).
  RawPg c(proxy().port(), "app", "app");
  ASSERT_TRUE(c.ok());
  auto value_of = [](const std::vector<RawMessage>& msgs) -> std::string {
    for (const auto& m : msgs)
      if (m.type == 'D' && m.body.size() > 6) return m.body.substr(6);
    return "";
  };
  c.send(RawPg::parse("q", "select 'c1'") + RawPg::bind("", "q") + RawPg::execute() +
         RawPg::sync());
  EXPECT_EQ(value_of(c.read_until('Z')), "c1");
  c.send(RawPg::close_statement("q") + RawPg::sync());
  EXPECT_EQ(types(c.read_until('Z')), "3Z");
  c.send(RawPg::bind("", "q") + RawPg::execute() + RawPg::sync());
  EXPECT_EQ(first_sqlstate(c.read_until('Z')), "26000");
  c.send(RawPg::parse("q", "select 'c2'") + RawPg::bind("", "q") + RawPg::execute() +
         RawPg::sync());
  EXPECT_EQ(value_of(c.read_until('Z')), "c2");
}

TEST_F(ProxyTest, EvictionKeepsTheStatementCacheTrue) {
  start_proxy(std::string("max_prepared_statements = 2\n") + kOneLink);
  auto a = client();
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 5; ++i) {
      std::string name = "s" + std::to_string(i);
      std::string sql = "select " + std::to_string(i);
      if (round == 0) {
        PGresult* p = PQprepare(a.get(), name.c_str(), sql.c_str(), 0, nullptr);
        ASSERT_EQ(PQresultStatus(p), PGRES_COMMAND_OK) << PQresultErrorMessage(p);
        PQclear(p);
      }
      PGresult* r = PQexecPrepared(a.get(), name.c_str(), 0, nullptr, nullptr, nullptr, 0);
      ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
      EXPECT_EQ(std::string(PQgetvalue(r, 0, 0)), std::to_string(i));
      PQclear(r);
    }
  }
  // At most two pgwarden statements exist on the server at any time.
  EXPECT_EQ(
      pq_exec(a.get(), "select count(*) from pg_prepared_statements where name like 'pgw_%'").value,
      "2");
}

TEST_F(ProxyTest, SqlDeallocateOfARenamedStatementIsAnsweredAsPostgreSQLWould) {
  // psycopg 3 drops its statements with SQL DEALLOCATE: the server knows them
  // by pgwarden's names, so pgwarden answers.
  for (const char* mode : {"transaction", "session"}) {
    SCOPED_TRACE(mode);
    start_proxy("", mode);
    auto c = client();
    PGresult* p = PQprepare(c.get(), "Q1", "select 1", 0, nullptr);
    ASSERT_EQ(PQresultStatus(p), PGRES_COMMAND_OK) << PQresultErrorMessage(p);
    PQclear(p);
    PGresult* r = PQexec(c.get(), "DEALLOCATE \"Q1\"");
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
    EXPECT_STREQ(PQcmdStatus(r), "DEALLOCATE");
    PQclear(r);
    r = PQexecPrepared(c.get(), "Q1", 0, nullptr, nullptr, nullptr, 0);
    EXPECT_STREQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "26000");
    PQclear(r);
    // The name is free again, inside a block too (DEALLOCATE is not transactional).
    ASSERT_TRUE(pq_exec(c.get(), "BEGIN").ok);
    p = PQprepare(c.get(), "Q1", "select 2", 0, nullptr);
    ASSERT_EQ(PQresultStatus(p), PGRES_COMMAND_OK) << PQresultErrorMessage(p);
    PQclear(p);
    ASSERT_TRUE(pq_exec(c.get(), "deallocate prepare \"Q1\";").ok);
    EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INTRANS);
    ASSERT_TRUE(pq_exec(c.get(), "COMMIT").ok);
    // A name nobody prepared is the server's to refuse.
    EXPECT_EQ(pq_exec(c.get(), "DEALLOCATE nosuch").sqlstate, "26000");
    // SQL PREPARE'd statements keep their own names on the server.
    ASSERT_TRUE(pq_exec(c.get(), "PREPARE sq AS SELECT 3").ok);
    EXPECT_EQ(pq_exec(c.get(), "EXECUTE sq").value, "3");
    EXPECT_TRUE(pq_exec(c.get(), "DEALLOCATE sq").ok);
  }
}

namespace {
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}
}  // namespace

// A client that stops reading holds its own link, not the proxy's memory:
// even when its next request runs on a fresh attachment (transaction mode)
// while the previous result is still being written to it.
TEST_F(ProxyTest, ClientThatDoesNotReadIsHeldByBackpressure) {
  start_proxy(std::string("client_buffer_size = 65536\n") + kOneLink);
  const long before = rss_kib(proxy().pid());
  ASSERT_GT(before, 0);
  RawPg a(proxy().port(), "app", "app");
  ASSERT_TRUE(a.ok());
  // First result: 16 MB, more than the socket buffers hold, so the write to
  // the client is still pending when the link is released.
  a.send(RawPg::query("select repeat('x', 1000) from generate_series(1, 16000)"));
  a.read_until('T', 1, 5);  // the result has started; now stop reading
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  a.send(RawPg::query("select repeat('y', 1000) from generate_series(1, 400000)"));  // 400 MB
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const long during = rss_kib(proxy().pid());
  EXPECT_LT(during - before, 64 * 1024) << "proxy RSS grew from " << before << " KiB to " << during
                                        << " KiB for a client that does not read";
  a.vanish();
  // The bystander is served once the link is freed.
  auto b = client();
  EXPECT_EQ(pq_exec(b.get(), "select 'after'").value, "after");
}

// A goodbye queued behind output still on its way (a client reading slowly)
// reaches the client, last: nothing of the result follows it, and the
// connection closes only after it.
TEST_F(ProxyTest, AFatalBehindOutputInFlightReachesTheClientLast) {
  start_proxy(std::string("client_buffer_size = 65536\n") + kOneLink +
              "[admin]\nadmin_users = [\"app\"]\n");
  RawPg a(proxy().port(), "app", "app");
  ASSERT_TRUE(a.ok());
  // 16 MB: more than the socket buffers hold, so most of it is still queued
  // or unread when the proxy ends the session.
  a.send(RawPg::query("select repeat('x', 1000) from generate_series(1, 16000)"));
  a.read_until('T', 1, 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    auto admin = pq_connect(proxy().conninfo("app", "app-pw", "pgbouncer"));
    auto k = pq_exec(admin.get(), "KILL app");
    ASSERT_TRUE(k.ok) << k.message;
  }
  // Read at once: the proxy waits a bounded 2 s for the client to drain the
  // queue before it closes anyway.
  const auto msgs = a.read_for(20);
  EXPECT_TRUE(a.peer_closed()) << msgs.size() << " messages, then no close";
  ASSERT_FALSE(msgs.empty());
  const RawMessage& last = msgs.back();
  ASSERT_EQ(last.type, 'E') << "the connection ended without its FATAL; last message types: "
                            << types(msgs).substr(types(msgs).size() > 8 ? types(msgs).size() - 8
                                                                         : 0);
  pgw::wire::ErrorFields e;
  pgw::wire::parse_error_fields(last.body, e);
  EXPECT_EQ(e.severity, "FATAL");
  EXPECT_EQ(e.sqlstate, "57P01");
  EXPECT_EQ(
      std::count_if(msgs.begin(), msgs.end(), [](const RawMessage& m) { return m.type == 'E'; }),
      1);
}
