// Unit tests of the built-in rule pack: every rule against a sample line, the
// captures it feeds into events, overrides and rule-file errors.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "pgwarden/logs/rules.hpp"
#include "unit_support.hpp"

using namespace pgw::logs;
using namespace pgw::logs::unit;

// ------------------------------------------------------------------ every rule
struct Case {
  Source src;
  const char* level;
  const char* text;
  const char* cls;
};

TEST(Rules, EveryBuiltinRuleHasAPassingSample) {
  using S = Source;
  const std::vector<Case> cases{
      {S::Postgres, "LOG", "connection received: host=10.0.0.1 port=5000",
       "pg.connection_received"},
      {S::Postgres, "LOG", "connection authorized: user=a database=b application_name=psql",
       "pg.connection_authorized"},
      {S::Postgres, "LOG", "replication connection authorized: user=rep application_name=walrcv",
       "pg.replication_connection_authorized"},
      {S::Postgres, "LOG",
       "connection authenticated: identity=\"app\" method=scram-sha-256 "
       "(/x/pg_hba.conf:9)",
       "pg.connection_authenticated"},
      {S::Postgres, "LOG",
       "connection ready: setup total=1.2 ms, fork=0.3 ms, authentication=0.5 ms",
       "pg.connection_ready"},
      {S::Postgres, "LOG",
       "disconnection: session time: 0:05:50.012 user=app database=app "
       "host=10.0.1.23 port=51234",
       "pg.disconnection"},
      {S::Postgres, "FATAL", "sorry, too many clients already", "pg.too_many_clients"},
      {S::Postgres, "FATAL",
       "remaining connection slots are reserved for non-replication "
       "superuser connections",
       "pg.reserved_slots_superuser"},
      {S::Postgres, "FATAL",
       "remaining connection slots are reserved for roles with privileges of "
       "the \"rds_reserved\" role",
       "pg.reserved_slots_rds"},
      {S::Postgres, "FATAL",
       "remaining connection slots are reserved for roles with the SUPERUSER "
       "attribute",
       "pg.reserved_slots_role"},
      {S::Postgres, "FATAL",
       "remaining connection slots are reserved for roles with privileges of "
       "the \"pg_use_reserved_connections\" role",
       "pg.reserved_slots_role"},
      {S::Postgres, "FATAL", "too many connections for database \"app\"",
       "pg.too_many_connections_database"},
      {S::Postgres, "FATAL", "too many connections for role \"app\"",
       "pg.too_many_connections_role"},
      {S::Postgres, "FATAL", "terminating connection due to administrator command",
       "pg.admin_terminate"},
      {S::Postgres, "FATAL", "terminating autovacuum process due to administrator command",
       "pg.background_terminated"},
      {S::Postgres, "FATAL", "terminating background worker \"x\" due to administrator command",
       "pg.background_terminated"},
      {S::Postgres, "FATAL", "terminating connection due to idle-in-transaction timeout",
       "pg.idle_in_transaction_timeout"},
      {S::Postgres, "FATAL", "terminating connection due to transaction timeout",
       "pg.transaction_timeout"},
      {S::Postgres, "FATAL", "terminating connection due to idle-session timeout",
       "pg.idle_session_timeout"},
      {S::Postgres, "FATAL", "terminating connection due to conflict with recovery",
       "pg.recovery_conflict_terminate"},
      {S::Postgres, "WARNING", "terminating connection because of crash of another server process",
       "pg.crash_of_other_process"},
      {S::Postgres, "WARNING", "terminating connection due to immediate shutdown command",
       "pg.immediate_shutdown"},
      {S::Postgres, "WARNING", "terminating connection because of unexpected SIGQUIT signal",
       "pg.immediate_shutdown"},
      {S::Postgres, "FATAL", "terminating connection because protocol synchronization was lost",
       "pg.protocol_sync_lost"},
      {S::Postgres, "FATAL", "connection to client lost", "pg.client_connection_lost"},
      {S::Postgres, "ERROR", "canceling statement due to statement timeout",
       "pg.statement_timeout"},
      {S::Postgres, "ERROR", "canceling statement due to lock timeout", "pg.lock_timeout"},
      {S::Postgres, "ERROR", "canceling statement due to user request", "pg.user_cancel"},
      {S::Postgres, "ERROR", "canceling statement due to conflict with recovery",
       "pg.recovery_conflict_cancel"},
      {S::Postgres, "FATAL", "canceling authentication due to timeout",
       "pg.authentication_timeout"},
      {S::Postgres, "LOG", "could not receive data from client: Connection reset by peer",
       "pg.client_reset"},
      {S::Postgres, "LOG", "could not receive data from client: Connection timed out",
       "pg.client_timed_out"},
      {S::Postgres, "LOG", "could not receive data from client: No route to host",
       "pg.client_recv_error"},
      {S::Postgres, "LOG", "could not send data to client: Broken pipe",
       "pg.client_send_broken_pipe"},
      {S::Postgres, "LOG", "could not send data to client: Connection reset by peer",
       "pg.client_send_reset"},
      {S::Postgres, "LOG", "could not send data to client: Connection timed out",
       "pg.client_send_error"},
      {S::Postgres, "LOG", "unexpected EOF on client connection with an open transaction",
       "pg.eof_in_transaction"},
      {S::Postgres, "DEBUG1", "unexpected EOF on client connection", "pg.client_eof"},
      {S::Postgres, "LOG", "incomplete message from client", "pg.incomplete_message"},
      {S::Postgres, "LOG", "unexpected EOF within message length word", "pg.incomplete_message"},
      {S::Postgres, "LOG", "incomplete startup packet", "pg.incomplete_startup"},
      {S::Postgres, "LOG", "invalid length of startup packet", "pg.incomplete_startup"},
      {S::Postgres, "FATAL", "unsupported frontend protocol 1234.5678: server supports 3.0 to 3.0",
       "pg.unsupported_protocol"},
      {S::Postgres, "LOG", "could not accept SSL connection: EOF detected", "pg.ssl_accept_eof"},
      {S::Postgres, "LOG", "could not accept SSL connection: Connection reset by peer",
       "pg.ssl_accept_failed"},
      {S::Postgres, "LOG", "SSL error: decryption failed or bad record mac", "pg.ssl_error"},
      {S::Postgres, "FATAL", "received unencrypted data after SSL request",
       "pg.ssl_unencrypted_after_request"},
      {S::Postgres, "FATAL", "the database system is starting up", "pg.cannot_connect_starting_up"},
      {S::Postgres, "FATAL", "the database system is shutting down",
       "pg.cannot_connect_shutting_down"},
      {S::Postgres, "FATAL", "the database system is in recovery mode",
       "pg.cannot_connect_recovery"},
      {S::Postgres, "FATAL", "the database system is not yet accepting connections",
       "pg.cannot_connect_not_yet_accepting"},
      {S::Postgres, "FATAL", "the database system is not accepting connections",
       "pg.cannot_connect_not_accepting"},
      {S::Postgres, "LOG", "could not fork new process for connection: Cannot allocate memory",
       "pg.fork_failure"},
      {S::Postgres, "LOG", "server process (PID 123) was terminated by signal 9: Killed",
       "pg.backend_killed_sigkill"},
      {S::Postgres, "LOG",
       "server process (PID 123) was terminated by signal 11: Segmentation fault",
       "pg.backend_crashed"},
      {S::Postgres, "LOG", "server process (PID 123) exited with exit code 1",
       "pg.backend_crashed"},
      {S::Postgres, "LOG", "terminating any other active server processes",
       "pg.crash_terminating_others"},
      {S::Postgres, "LOG", "all server processes terminated; reinitializing",
       "pg.crash_reinitializing"},
      {S::Postgres, "LOG",
       "database system was interrupted; last known up at 2026-08-20 10:00:00 UTC",
       "pg.crash_recovery_started"},
      {S::Postgres, "LOG",
       "database system was not properly shut down; automatic recovery in "
       "progress",
       "pg.crash_recovery_started"},
      {S::Postgres, "LOG", "database system is ready to accept connections", "pg.server_ready"},
      {S::Postgres, "LOG", "received fast shutdown request", "pg.shutdown_requested"},
      {S::Postgres, "LOG", "database system is shut down", "pg.server_shut_down"},
      {S::Postgres, "ERROR", "out of memory", "pg.out_of_memory"},
      {S::Postgres, "FATAL", "password authentication failed for user \"app\"",
       "pg.password_failed"},
      {S::Postgres, "FATAL",
       "no pg_hba.conf entry for host \"1.2.3.4\", user \"a\", database \"b\", "
       "no encryption",
       "pg.no_hba_entry"},
      {S::Postgres, "FATAL",
       "pg_hba.conf rejects connection for host \"1.2.3.4\", user \"a\", "
       "database \"b\", no encryption",
       "pg.hba_reject"},
      {S::Postgres, "FATAL", "Ident authentication failed for user \"a\"", "pg.other_auth_failed"},
      {S::Postgres, "FATAL", "role \"a\" is not permitted to log in", "pg.role_cannot_login"},
      {S::Postgres, "FATAL", "role \"ghost\" does not exist", "pg.role_missing"},
      {S::Postgres, "FATAL", "database \"nope\" does not exist", "pg.database_missing"},
      {S::Postgres, "FATAL", "database \"tmpl\" is not currently accepting connections",
       "pg.database_not_accepting"},
      {S::Postgres, "LOG", "terminating walsender process due to replication timeout",
       "pg.walsender_timeout"},
      {S::Postgres, "ERROR", "replication slot \"zero_0\" is active for PID 4242",
       "pg.slot_in_use"},
      {S::Postgres, "ERROR", "replication slot \"zero_0\" does not exist", "pg.slot_missing"},
      {S::Postgres, "ERROR", "can no longer get changes from replication slot \"zero_0\"",
       "pg.slot_invalidated"},
      {S::Postgres, "ERROR", "cannot read from logical replication slot \"zero_0\"",
       "pg.slot_invalidated"},
      {S::Postgres, "ERROR", "all replication slots are in use", "pg.slots_exhausted"},
      {S::Postgres, "ERROR",
       "requested WAL segment 000000010000000000000003 has already been removed",
       "pg.wal_segment_removed"},
      {S::Postgres, "FATAL", "could not receive data from WAL stream: server closed the connection",
       "pg.walreceiver_lost"},
      {S::Postgres, "FATAL", "terminating walreceiver process due to administrator command",
       "pg.walreceiver_terminated"},
      {S::Postgres, "PANIC",
       "could not write to file \"pg_wal/xlogtemp.1\": No space left on device", "pg.other_panic"},
      {S::Postgres, "FATAL", "some brand new fatal message", "pg.other_fatal"},
      // PgBouncer
      {S::Pgbouncer, "LOG", "closing because: client close request (age=0s)",
       "pgbouncer.client_close_request"},
      {S::Pgbouncer, "LOG", "closing because: client unexpected eof (age=3s)",
       "pgbouncer.client_unexpected_eof"},
      {S::Pgbouncer, "LOG",
       "closing because: client disconnect while server was not ready (age=1s)",
       "pgbouncer.client_disconnect_mid_query"},
      {S::Pgbouncer, "LOG", "closing because: server conn crashed? (age=351s)",
       "pgbouncer.server_conn_crashed"},
      {S::Pgbouncer, "LOG", "closing because: server connection closed (age=5s)",
       "pgbouncer.server_connection_closed"},
      {S::Pgbouncer, "LOG", "closing because: connect failed (age=0s)", "pgbouncer.connect_failed"},
      {S::Pgbouncer, "LOG", "closing because: query_wait_timeout (age=120s)",
       "pgbouncer.query_wait_timeout"},
      {S::Pgbouncer, "LOG", "closing because: query timeout (age=30s)", "pgbouncer.query_timeout"},
      {S::Pgbouncer, "LOG", "closing because: client_idle_timeout (age=600s)",
       "pgbouncer.client_idle_timeout"},
      {S::Pgbouncer, "LOG", "closing because: client_login_timeout (server down) (age=60s)",
       "pgbouncer.client_login_timeout"},
      {S::Pgbouncer, "LOG", "closing because: idle transaction timeout (age=60s)",
       "pgbouncer.idle_transaction_timeout"},
      {S::Pgbouncer, "LOG", "closing because: server lifetime over (age=3600s)",
       "pgbouncer.server_recycled"},
      {S::Pgbouncer, "LOG", "closing because: SV_IDLE server got dirty (age=1s)",
       "pgbouncer.server_dirty"},
      {S::Pgbouncer, "LOG", "closing because: admin forced disconnect (age=9s)",
       "pgbouncer.admin_or_shutdown"},
      {S::Pgbouncer, "LOG",
       "closing because: no more connections allowed (max_client_conn) (age=0s)",
       "pgbouncer.limit_reached"},
      {S::Pgbouncer, "LOG", "closing because: password authentication failed (age=0s)",
       "pgbouncer.auth_failed"},
      {S::Pgbouncer, "LOG", "closing because: unsupported startup parameter: x (age=0s)",
       "pgbouncer.protocol_error"},
      {S::Pgbouncer, "LOG", "closing because: something new (age=0s)", "pgbouncer.other_close"},
      {S::Pgbouncer, "LOG", "login attempt: db=a user=b tls=no", "pgbouncer.login_attempt"},
      // pgwarden
      {S::Pgwarden, "", "pool.timeout", "pgwarden.pool_timeout"},
      {S::Pgwarden, "", "failover.start", "pgwarden.failover"},
      {S::Pgwarden, "", "server.close peer_reset", "pgwarden.abnormal_close"},
      {S::Pgwarden, "", "client.open", "pgwarden.other"},
      // applications
      {S::App, "",
       "resetting connection to db:5432 after 120000 ms of inactivity (likely "
       "half-open); in-flight queries will be rejected",
       "app.zero.socket_inactivity_reset"},
      {S::App, "", "replication stream closed by db:5432", "app.zero.replication_stream_closed"},
      {S::App, "",
       "no message received from db in 60000ms (> inbound timeout 60000ms). Destroying "
       "replication stream to force reconnect.",
       "app.zero.replication_inbound_timeout"},
      {S::App, "", "AutoResetSignal: replication slot missing", "app.zero.auto_reset"},
      {S::App, "", "attempt 2: PostgresError: replication slot \"z_0\" is active for PID 99",
       "app.server.slot_in_use"},
      {S::App, "", "error: terminating connection due to administrator command",
       "app.server.admin_shutdown"},
      {S::App, "", "error: sorry, too many clients already", "app.server.too_many_connections"},
      {S::App, "", "error: the database system is starting up", "app.server.cannot_connect_now"},
      {S::App, "", "error: terminating connection due to idle-in-transaction timeout",
       "app.server.idle_in_transaction_timeout"},
      {S::App, "", "error: terminating connection due to idle-session timeout",
       "app.server.idle_session_timeout"},
      {S::App, "", "error: canceling statement due to statement timeout",
       "app.server.statement_timeout"},
      {S::App, "", "terminating connection because of crash of another server process",
       "app.server.crash"},
      {S::App, "", "error: password authentication failed for user \"app\"",
       "app.server.auth_failed"},
      {S::App, "", "Error: Connection terminated unexpectedly",
       "app.pg.connection_terminated_unexpectedly"},
      {S::App, "", "Error: Connection terminated due to connection timeout",
       "app.pg.connection_timeout"},
      {S::App, "", "Error: timeout exceeded when trying to connect",
       "app.pg.pool_checkout_timeout"},
      {S::App, "", "Error: Client has encountered a connection error and is not queryable",
       "app.pg.client_not_queryable"},
      {S::App, "", "Error: Query read timeout", "app.pg.query_read_timeout"},
      {S::App, "", "Error: The server does not support SSL connections", "app.pg.ssl_error"},
      {S::App, "", "Error: Connection terminated", "app.pg.connection_terminated"},
      {S::App, "", "Error: write CONNECTION_CLOSED db:5432", "app.postgresjs.connection_closed"},
      {S::App, "", "Error: write CONNECTION_DESTROYED db:5432",
       "app.postgresjs.connection_destroyed"},
      {S::App, "", "Error: write CONNECTION_ENDED db:5432", "app.postgresjs.connection_ended"},
      {S::App, "", "Error: write CONNECT_TIMEOUT db:5432", "app.postgresjs.connect_timeout"},
      {S::App, "", "[ioredis] Unhandled error event: Error: connect ECONNREFUSED 127.0.0.1:6379",
       "app.redis.ioredis_unhandled_error"},
      {S::App, "",
       "Reached the max retries per request limit (which is 1). Refer to "
       "\"maxRetriesPerRequest\" option for details.",
       "app.redis.max_retries"},
      {S::App, "", "Error: Connection is closed.", "app.redis.connection_closed"},
      {S::App, "", "Stream isn't writeable and enableOfflineQueue options is false",
       "app.redis.offline_queue_disabled"},
      {S::App, "", "Error: Command timed out", "app.redis.command_timeout"},
      {S::App, "", "ClusterAllFailedError: Failed to refresh slots cache.",
       "app.redis.cluster_unavailable"},
      {S::App, "", "SocketClosedUnexpectedlyError: Socket closed unexpectedly",
       "app.redis.socket_closed_unexpectedly"},
      {S::App, "", "Socket timeout timeout. Expecting data, but didn't receive any in 5000ms.",
       "app.redis.socket_timeout"},
      {S::App, "", "ClientClosedError: The client is closed", "app.redis.client_closed_or_offline"},
      {S::App, "", R"({"error":{"message":"x","code":-32603,"data":{"code":"GATEWAY_TIMEOUT"}}})",
       "app.trpc.unavailable"},
      {S::App, "", R"(tRPC error on 'user.get': INTERNAL_SERVER_ERROR boom)",
       "app.trpc.internal_error"},
      {S::App, "", "Error: connect ECONNREFUSED 10.0.0.5:5432", "app.net.econnrefused"},
      {S::App, "", "Error: read ECONNRESET", "app.net.econnreset"},
      {S::App, "", "Error: write EPIPE", "app.net.epipe"},
      {S::App, "", "Error: connect ETIMEDOUT 10.0.0.5:5432", "app.net.etimedout"},
      {S::App, "", "Error: getaddrinfo ENOTFOUND db.internal", "app.net.unreachable"},
  };
  std::set<std::string> covered;
  for (const auto& c : cases) {
    EXPECT_EQ(classify(c.src, c.level, c.text), c.cls) << c.text;
    covered.insert(c.cls);
  }
  for (const auto& r : builtin().rules()) {
    EXPECT_TRUE(covered.count(r.cls)) << "no sample for rule " << r.cls;
  }
  // Things that are not connection events stay unclassified.
  EXPECT_EQ(classify(Source::Postgres, "LOG", "duration: 0.123 ms  statement: select 1"), "-");
  EXPECT_EQ(classify(Source::Postgres, "ERROR", "relation \"x\" does not exist"), "-");
  EXPECT_EQ(classify(Source::Postgres, "ERROR", "role \"x\" does not exist"), "-");
  EXPECT_EQ(classify(Source::App, "", "GET /health 200 3ms"), "-");
}

TEST(Rules, CapturesFeedEventFields) {
  Record r;
  r.level = "LOG";
  r.message =
      "connection authorized: user=app database=appdb application_name=zero-sync-worker-12-cvr "
      "SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)";
  Captures caps;
  int i = builtin().classify(r, Source::Postgres, &caps);
  ASSERT_GE(i, 0);
  std::map<std::string, std::string> m(caps.begin(), caps.end());
  EXPECT_EQ(m["user"], "app");
  EXPECT_EQ(m["database"], "appdb");
  EXPECT_EQ(m["app"], "zero-sync-worker-12-cvr");
}

// ------------------------------------------------------------------ user rule packs
TEST(RulePackTest, OverrideDisableAndExtend) {
  RulePack p;
  p.load_toml(RulePack::builtin_toml(), "builtin.toml");
  RulePack user;
  user.load_toml(R"(
[[rule]]
class = "pg.statement_timeout"
prefix = "canceling statement due to statement timeout"
severity = "critical"
failure = true
meaning = "ours are fatal"

[[rule]]
class = "pg.user_cancel"
disabled = true

[[rule]]
class = "myapp.checkout_failed"
source = "app"
field = "line"
contains = ["checkout failed"]
severity = "error"
failure = true
meaning = "our own message"
)",
                 "user.toml");
  size_t before = p.rules().size();
  p.merge(std::move(user));
  p.finalize();
  EXPECT_EQ(p.rules().size(), before);  // +1 new, -1 disabled
  Record r;
  r.level = "ERROR";
  r.message = "canceling statement due to statement timeout";
  Captures c;
  int i = p.classify(r, Source::Postgres, &c);
  ASSERT_GE(i, 0);
  EXPECT_EQ(p.rule(i).severity, "critical");
  r.message = "canceling statement due to user request";
  EXPECT_LT(p.classify(r, Source::Postgres, &c), 0);
  Record a;
  a.line = a.message = "checkout failed: ECONNRESET";
  i = p.classify(a, Source::App, &c);
  ASSERT_GE(i, 0);
  EXPECT_EQ(p.rule(i).cls, "myapp.checkout_failed");  // new rules come before built-in ones
}

TEST(RulePackTest, ErrorsNameFileAndLine) {
  RulePack p;
  try {
    p.load_toml("[[rule]]\nclass = \"x\"\nseverity = \"loud\"\n", "mine.toml");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("mine.toml:1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(p.load_toml("[[rule]]\nclass = \"x\"\nregex = \"(\"\n", "m"), std::runtime_error);
  EXPECT_THROW(p.load_toml("[[rule]]\nclass = \"x\"\nbogus = 1\n", "m"), std::runtime_error);
  EXPECT_THROW(p.load_toml("[[rule\n", "m"), std::runtime_error);
}
