// Transaction mode and session state: settings follow their client to every
// server connection and never reach another client; state that cannot move
// (LISTEN, temporary tables, session advisory locks...) pins the client to its
// connection or is refused, as configured.
#include <string_view>
#include <thread>

#include "raw_pg.hpp"
#include "stack.hpp"

using namespace pgw::test;

namespace {
std::string show(PGconn* c, const std::string& name) {
  return pq_exec(c, "select current_setting('" + name + "', true)").value;
}
}  // namespace

TEST_F(ProxyTest, SettingsFollowTheirClientAndNeverLeak) {
  // One server connection: both clients take turns on it.
  start_proxy("default_pool_size = 1\n");
  auto a = client();
  auto b = client();
  const std::string default_work_mem = show(b.get(), "work_mem");
  ASSERT_TRUE(pq_exec(a.get(), "SET work_mem = '3MB'").ok);
  ASSERT_TRUE(pq_exec(a.get(), "select set_config('app.tenant', '42', false)").ok);
  EXPECT_EQ(show(b.get(), "work_mem"), default_work_mem);  // not a's
  EXPECT_EQ(show(b.get(), "app.tenant"), "");
  EXPECT_EQ(show(a.get(), "work_mem"), "3MB");  // a's, back on the shared link
  EXPECT_EQ(show(a.get(), "app.tenant"), "42");

  // Inside a transaction: kept on COMMIT, not on ROLLBACK (as on PostgreSQL).
  ASSERT_TRUE(pq_exec(a.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(a.get(), "set work_mem = '5MB'").ok);
  ASSERT_TRUE(pq_exec(a.get(), "rollback").ok);
  EXPECT_EQ(show(b.get(), "work_mem"), default_work_mem);
  EXPECT_EQ(show(a.get(), "work_mem"), "3MB");
  ASSERT_TRUE(pq_exec(a.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(a.get(), "set statement_timeout = '7s'").ok);
  ASSERT_TRUE(pq_exec(a.get(), "commit").ok);
  EXPECT_EQ(show(b.get(), "statement_timeout"), "0");
  EXPECT_EQ(show(a.get(), "statement_timeout"), "7s");

  // RESET is carried too.
  ASSERT_TRUE(pq_exec(a.get(), "reset work_mem").ok);
  EXPECT_EQ(show(a.get(), "work_mem"), default_work_mem);
  EXPECT_EQ(show(b.get(), "statement_timeout"), "0");

  // A client that leaves with settings never read back leaves nothing behind.
  ASSERT_TRUE(pq_exec(a.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(a.get(), "set search_path = 'pg_catalog'").ok);
  ASSERT_TRUE(pq_exec(a.get(), "commit").ok);
  a.reset();
  EXPECT_EQ(show(b.get(), "search_path"), "\"$user\", public");
}

TEST_F(ProxyTest, ListenPinsItsClientAndNotificationsReachIt) {
  start_proxy("default_pool_size = 2\n");
  auto listener = client();
  ASSERT_TRUE(pq_exec(listener.get(), "LISTEN jobs").ok);
  auto ev = proxy().wait_event({{"event", "client.pinned"}});
  ASSERT_TRUE(ev.is_object());
  EXPECT_NE(ev["message"].get<std::string>().find("LISTEN"), std::string::npos);
  auto sender = client();
  ASSERT_TRUE(pq_exec(sender.get(), "NOTIFY jobs, 'job-1'").ok);
  PGnotify* n = nullptr;
  for (int i = 0; i < 50 && !n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    PQconsumeInput(listener.get());
    n = PQnotifies(listener.get());
  }
  ASSERT_NE(n, nullptr);
  EXPECT_STREQ(n->relname, "jobs");
  EXPECT_STREQ(n->extra, "job-1");
  PQfreemem(n);
  // Once the listener leaves, no server connection listens any more.
  listener.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto c1 = client();
  auto c2 = client();
  ASSERT_TRUE(pq_exec(c1.get(), "begin").ok);
  ASSERT_TRUE(pq_exec(c2.get(), "begin").ok);
  EXPECT_EQ(pq_exec(c1.get(), "select count(*) from pg_listening_channels()").value, "0");
  EXPECT_EQ(pq_exec(c2.get(), "select count(*) from pg_listening_channels()").value, "0");
}

TEST_F(ProxyTest, TemporaryTableAndAdvisoryLockPinInsteadOfLeaking) {
  start_proxy("default_pool_size = 2\n");
  auto a = client();
  ASSERT_TRUE(pq_exec(a.get(), "create temp table scratch(x int)").ok);
  ASSERT_TRUE(pq_exec(a.get(), "insert into scratch values (1)").ok);
  auto b = client();
  ASSERT_TRUE(pq_exec(b.get(), "select 1").ok);  // takes the other link
  EXPECT_EQ(pq_exec(a.get(), "select count(*) from scratch").value, "1");
  ASSERT_TRUE(pq_exec(a.get(), "select pg_advisory_lock(77)").ok);
  a.reset();  // DISCARD ALL on departure: the lock and the table go with it
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(pg().psql("select count(*) from pg_locks where locktype = 'advisory'", "app"), "0");
}

TEST_F(ProxyTest, SessionStateCanBeRefusedWithAClearError) {
  start_proxy("transaction_session_state = \"refuse\"\n");
  auto c = client();
  auto r = pq_exec(c.get(), "LISTEN jobs");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "0A000");
  EXPECT_NE(r.message.find("LISTEN is session state"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("transaction_session_state"), std::string::npos) << r.message;
  r = pq_exec(c.get(), "create temporary table t(x int)");
  EXPECT_EQ(r.sqlstate, "0A000");
  EXPECT_EQ(pq_exec(c.get(), "select 'still here'").value, "still here");
}

// psql's \gdesc: Parse (unnamed) + Sync, then Describe in a second Sync. In
// between, transaction mode may lend the link to someone else.
TEST_F(ProxyTest, UnnamedStatementSurvivesAMoveBetweenSyncs) {
  start_proxy("auth_type = \"trust\"\ndefault_pool_size = 1\n");
  RawPg a(proxy().port(), "app", "app");
  ASSERT_TRUE(a.ok());
  a.send(RawPg::parse("", "select 1 as answer") + RawPg::sync());
  EXPECT_EQ(types(a.read_until('Z')), "1Z");
  auto other = client();
  ASSERT_TRUE(pq_exec(other.get(), "select 'a simple query destroys the unnamed statement'").ok);
  a.send(RawPg::describe_statement("") + RawPg::sync());
  auto got = a.read_until('Z');
  EXPECT_EQ(types(got), "tTZ");
  EXPECT_EQ(first_sqlstate(got), "");
}

// RESET, RESET ALL, DISCARD ALL and SET ... TO DEFAULT of parameters the
// client gave at startup bring back its startup values, as on PostgreSQL
// (not the values pgwarden's own server login left), and libpq hears them.
class StartupResetTest : public ProxyTest {
 protected:
  void expect_resets_restore_startup_values();
};

void StartupResetTest::expect_resets_restore_startup_values() {
  auto a = client("application_name=startup_app options='-c TimeZone=Asia/Tokyo'");
  auto b = client();
  for (const char* reset :
       {"RESET TimeZone", "RESET ALL", "DISCARD ALL", "SET TimeZone TO DEFAULT"}) {
    SCOPED_TRACE(reset);
    ASSERT_TRUE(pq_exec(a.get(), "SET TimeZone = 'UTC'").ok);
    ASSERT_TRUE(pq_exec(a.get(), "SET application_name = 'changed'").ok);
    ASSERT_TRUE(pq_exec(b.get(), "select 1").ok);  // b takes the shared link between
    ASSERT_TRUE(pq_exec(a.get(), reset).ok);
    const bool resets_everything = std::string_view(reset).find("ALL") != std::string_view::npos;
    EXPECT_EQ(show(a.get(), "application_name"), resets_everything ? "startup_app" : "changed");
    EXPECT_EQ(show(a.get(), "TimeZone"), "Asia/Tokyo");
    ASSERT_NE(PQparameterStatus(a.get(), "TimeZone"), nullptr);
    EXPECT_STREQ(PQparameterStatus(a.get(), "TimeZone"), "Asia/Tokyo");
    EXPECT_NE(show(b.get(), "TimeZone"), "Asia/Tokyo");  // never another client's
  }
  ASSERT_TRUE(pq_exec(a.get(), "RESET application_name").ok);
  EXPECT_EQ(show(a.get(), "application_name"), "startup_app");
  EXPECT_STREQ(PQparameterStatus(a.get(), "application_name"), "startup_app");
}

TEST_F(StartupResetTest, ResetBringsBackTheStartupValueInTransactionMode) {
  start_proxy("default_pool_size = 1\n");
  expect_resets_restore_startup_values();
}

TEST_F(StartupResetTest, ResetBringsBackTheStartupValueInSessionMode) {
  start_proxy("default_pool_size = 2\n", "session");
  expect_resets_restore_startup_values();
}

TEST_F(ProxyTest, AStartupValueTheServerRefusesDoesNotPinItsClient) {
  // PostgreSQL refuses such a login (FATAL 22023); pgwarden lets the client in
  // with a warning (README: known differences), and its later settings must
  // still be read back rather than pin the client for good.
  start_proxy("default_pool_size = 1\n");
  auto a = client("options='-c work_mem=bogus'");
  ASSERT_TRUE(pq_exec(a.get(), "select 1").ok);
  ASSERT_TRUE(pq_exec(a.get(), "SET statement_timeout = '9s'").ok);
  EXPECT_EQ(show(a.get(), "statement_timeout"), "9s");
  auto b = client();
  EXPECT_EQ(show(b.get(), "statement_timeout"), "0");  // a gave the link back
  for (const auto& ev : proxy().settled_events(1.5))
    EXPECT_NE(ev.value("event", ""), "client.pinned") << ev.dump();
}
