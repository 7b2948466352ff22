// Unit tests of src/logs: prefixes, timestamps, multi-line joining, every rule
// of the built-in pack, the readers, bad input, rule overrides and the analysis.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "pgwarden/logs/analysis.hpp"
#include "pgwarden/logs/output.hpp"
#include "pgwarden/logs/prefix.hpp"
#include "pgwarden/logs/readers.hpp"
#include "pgwarden/logs/rules.hpp"

using namespace pgw::logs;

namespace {
const RulePack& builtin() {
  static RulePack* p = [] {
    auto* r = new RulePack;
    r->load_toml(RulePack::builtin_toml(), "builtin.toml");
    r->finalize();
    return r;
  }();
  return *p;
}

// Feeds text through a reader and collects the records.
std::vector<Record> read_all(Format f, const std::string& text, BadInput* bad,
                             std::optional<std::string> prefix = std::nullopt) {
  std::vector<Record> out;
  ReaderOptions o;
  o.file_name = "t.log";
  o.prefix = std::move(prefix);
  auto r = make_reader(
      f, o, [&](Record& rec) { out.push_back(rec); }, bad);
  LineSplitter split([&](std::string_view l, uint64_t n) { r->line(l, n); }, bad, "t.log", 4096);
  split.feed(text);
  split.finish();
  r->finish();
  return out;
}

std::string classify(Source src, const std::string& level, const std::string& message,
                     const std::string& detail = "") {
  Record r;
  r.level = level;
  r.message = message;
  r.detail = detail;
  if (src == Source::App) r.line = message;
  Captures caps;
  int i = builtin().classify(r, src, &caps);
  return i < 0 ? std::string("-") : builtin().rule(i).cls;
}
}  // namespace

// ------------------------------------------------------------------ time
TEST(Time, ParsesPostgresAndIsoTimestamps) {
  auto a = parse_timestamp("2026-08-20 10:15:02 UTC");
  ASSERT_TRUE(a);
  EXPECT_EQ(format_ts(*a), "2026-08-20T10:15:02.000000Z");
  EXPECT_EQ(format_ts(*parse_timestamp("2026-08-20 10:15:02.123 CEST")),
            "2026-08-20T08:15:02.123000Z");
  EXPECT_EQ(format_ts(*parse_timestamp("2026-08-20 10:15:02.5+02")), "2026-08-20T08:15:02.500000Z");
  EXPECT_EQ(format_ts(*parse_timestamp("2026-08-20T10:15:02.123456Z")),
            "2026-08-20T10:15:02.123456Z");
  EXPECT_EQ(format_ts(*parse_timestamp("2026-08-20T10:15:02-05:30")),
            "2026-08-20T15:45:02.000000Z");
  EXPECT_FALSE(parse_timestamp("2026-13-20 10:15:02"));
  EXPECT_FALSE(parse_timestamp("garbage"));
  size_t used = 0;
  parse_timestamp("2026-08-20 10:15:02 UTC:10.0.0.1(5):", &used);
  EXPECT_EQ(used, 23u);
}

TEST(Time, SessionTime) {
  EXPECT_EQ(parse_session_time("0:05:50.012"), 350012);
  EXPECT_EQ(parse_session_time("12:00:00.000"), 43200000);
  EXPECT_FALSE(parse_session_time("x:00"));
}

// ------------------------------------------------------------------ prefixes
TEST(Prefix, DebianDefault) {
  auto p = LinePrefix::compile("%m [%p] ");
  ASSERT_TRUE(p);
  PrefixFields f;
  std::string l = "2026-08-20 10:15:02.123 UTC [4242] LOG:  connection received: host=[local]";
  auto off = p->match(l, &f);
  ASSERT_TRUE(off);
  EXPECT_EQ(f.pid, 4242);
  EXPECT_TRUE(f.has_ts);
  auto body = parse_body(std::string_view(l).substr(*off));
  ASSERT_TRUE(body);
  EXPECT_EQ(body->level, "LOG");
  EXPECT_EQ(body->message, "connection received: host=[local]");
}

TEST(Prefix, RdsPrefixWithEmptyFields) {
  auto p = LinePrefix::compile("%t:%r:%u@%d:[%p]:");
  ASSERT_TRUE(p);
  PrefixFields f;
  std::string l =
      "2026-08-20 10:15:02 UTC:10.0.1.23(51234):app@appdb:[12345]:LOG:  could not receive data "
      "from client: Connection reset by peer";
  ASSERT_TRUE(p->match(l, &f));
  EXPECT_EQ(f.host, "10.0.1.23");
  EXPECT_EQ(f.port, "51234");
  EXPECT_EQ(f.user, "app");
  EXPECT_EQ(f.database, "appdb");
  EXPECT_EQ(f.pid, 12345);
  PrefixFields g;
  ASSERT_TRUE(p->match("2026-08-20 10:15:02 UTC::@:[678]:LOG:  checkpoint starting: time", &g));
  EXPECT_EQ(g.pid, 678);
  EXPECT_TRUE(g.user.empty());
  EXPECT_FALSE(p->match("2026-08-20 10:15:02.1 UTC [1] LOG:  x", &g));
}

TEST(Prefix, PercentQEndsPrefixForBackgroundProcesses) {
  auto p = LinePrefix::compile("%m [%p] %q%u@%d ");
  ASSERT_TRUE(p);
  PrefixFields f;
  ASSERT_TRUE(p->match("2026-08-20 10:15:02.123 UTC [7] app@db FATAL:  x", &f));
  EXPECT_EQ(f.user, "app");
  EXPECT_EQ(f.database, "db");
  PrefixFields g;
  ASSERT_TRUE(p->match("2026-08-20 10:15:02.123 UTC [8] LOG:  checkpoint complete", &g));
  EXPECT_EQ(g.pid, 8);
  EXPECT_TRUE(g.user.empty());
}

TEST(Prefix, PgBadgerStyleWithAppAndSqlstate) {
  auto p = LinePrefix::compile("%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h,e=%e ");
  ASSERT_TRUE(p);
  PrefixFields f;
  ASSERT_TRUE(p->match(
      "2026-08-20 10:15:02 UTC [9]: [3-1] user=u,db=d,app=my app,client=1.2.3.4,e=57P01 FATAL:  x",
      &f));
  EXPECT_EQ(f.app, "my app");
  EXPECT_EQ(f.host, "1.2.3.4");
  EXPECT_EQ(f.sqlstate, "57P01");
}

TEST(Prefix, RejectsBadSpecs) {
  std::string err;
  EXPECT_FALSE(LinePrefix::compile("%m %", &err));
  EXPECT_FALSE(LinePrefix::compile("%Z", &err));
  EXPECT_NE(err.find("%Z"), std::string::npos);
}

TEST(Prefix, CloudWatchTimestampIsStripped) {
  std::string l = "2026-08-20T10:15:02.000Z 2026-08-20 10:15:02 UTC:10.0.0.9(1):a@b:[5]:FATAL:  x";
  EXPECT_EQ(strip_cloudwatch(l), "2026-08-20 10:15:02 UTC:10.0.0.9(1):a@b:[5]:FATAL:  x");
  EXPECT_EQ(strip_cloudwatch("2026-08-20 10:15:02 UTC [1] LOG:  x"),
            "2026-08-20 10:15:02 UTC [1] LOG:  x");
}

TEST(Prefix, VerboseSqlstateIsSplitOff) {
  auto b = parse_body("FATAL:  57P01: terminating connection due to administrator command");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->sqlstate, "57P01");
  EXPECT_EQ(b->message, "terminating connection due to administrator command");
  EXPECT_FALSE(parse_body("NOTALEVEL:  x"));
}

TEST(Prefix, DetectsKnownPrefixes) {
  std::vector<std::string> rds{
      "2026-08-20 10:15:02 UTC:10.0.1.23(51234):app@appdb:[12345]:LOG:  connection authorized: "
      "user=app database=appdb",
      "2026-08-20 10:15:03 UTC::@:[678]:LOG:  checkpoint starting: time",
      "2026-08-20 10:15:04 UTC:10.0.1.23(51234):app@appdb:[12345]:ERROR:  boom",
      "\tcontinued statement text"};
  EXPECT_EQ(detect_prefix(rds).spec(), "%t:%r:%u@%d:[%p]:");
  std::vector<std::string> deb{"2026-08-20 10:15:02.123 UTC [12] LOG:  starting PostgreSQL",
                               "2026-08-20 10:15:02.125 UTC [12] LOG:  listening on IPv4"};
  EXPECT_EQ(detect_prefix(deb).spec(), "%m [%p] ");
  std::vector<std::string> odd{"<<12>> weird prefix LOG:  something", "<<13>> FATAL:  other"};
  EXPECT_TRUE(detect_prefix(odd).is_generic());
}

TEST(Prefix, GenericMatcherFindsLevelAndFields) {
  auto g = LinePrefix::generic();
  PrefixFields f;
  std::string l = "[2026-08-20 10:15:02 UTC] [31] user=u,db=d,app=a,client=h FATAL:  boom";
  auto off = g.match(l, &f);
  ASSERT_TRUE(off);
  EXPECT_EQ(f.pid, 31);
  EXPECT_EQ(f.user, "u");
  EXPECT_EQ(f.app, "a");
  EXPECT_TRUE(f.has_ts);
}

// ------------------------------------------------------------------ multi-line joining
TEST(Stderr, JoinsDetailAndContinuationLines) {
  BadInput bad;
  std::string text =
      "2026-08-20 10:00:00.000 UTC [1] LOG:  server process (PID 77) was terminated by signal 9: "
      "Killed\n"
      "2026-08-20 10:00:00.000 UTC [1] DETAIL:  Failed process was running: select\n"
      "\t  1 from t\n"
      "2026-08-20 10:00:01.000 UTC [5] ERROR:  syntax error\n"
      "2026-08-20 10:00:01.000 UTC [5] STATEMENT:  selec 1\n"
      "\twhere x\n"
      "2026-08-20 10:00:02.000 UTC [9] DETAIL:  orphan detail of another pid\n"
      "2026-08-20 10:00:03.000 UTC [6] FATAL:  terminating connection due to administrator "
      "command\n";
  auto recs = read_all(Format::Stderr, text, &bad, "%m [%p] ");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].message, "server process (PID 77) was terminated by signal 9: Killed");
  EXPECT_EQ(recs[0].detail, "Failed process was running: select 1 from t");
  EXPECT_EQ(recs[0].line_no, 1u);
  EXPECT_EQ(recs[1].level, "ERROR");
  EXPECT_TRUE(recs[1].detail.empty());
  EXPECT_EQ(recs[2].pid, 6);
  EXPECT_EQ(recs[2].line_no, 8u);
  EXPECT_EQ(bad.total(), 0u);
}

TEST(Stderr, UnknownPrefixLinesAreCounted) {
  BadInput bad;
  std::string text =
      "2026-08-20 10:00:00.000 UTC [1] LOG:  a\n"
      "2026-08-20 10:00:00 something else entirely\n"
      "2026-08-20 10:00:01.000 UTC [1] LOG:  b\n";
  auto recs = read_all(Format::Stderr, text, &bad, "%m [%p] ");
  EXPECT_EQ(recs.size(), 2u);
  EXPECT_EQ(bad.counts["unknown_prefix"], 1u);
}

// ------------------------------------------------------------------ other readers
TEST(Csvlog, ParsesQuotedMultiLineFields) {
  BadInput bad;
  std::string text =
      "2026-08-20 10:15:02.123 UTC,\"app\",\"appdb\",4242,\"10.0.0.5:51234\",64e1.1092,3,"
      "\"idle\",2026-08-20 10:00:00 UTC,3/0,0,FATAL,57P01,\"terminating connection due to "
      "administrator command\",,,,,,,,,\"my \"\"app\"\"\",client backend,,0\n"
      "2026-08-20 10:15:03.000 UTC,,,1,,64e1.1,1,,2026-08-20 10:00:00 UTC,,0,LOG,00000,\"line "
      "one\nline two\",\"det\",,,,,,,,\"\",postmaster,,0\n"
      "short,row\n";
  auto recs = read_all(Format::Csvlog, text, &bad);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].user, "app");
  EXPECT_EQ(recs[0].pid, 4242);
  EXPECT_EQ(recs[0].host, "10.0.0.5");
  EXPECT_EQ(recs[0].port, "51234");
  EXPECT_EQ(recs[0].sqlstate, "57P01");
  EXPECT_EQ(recs[0].application_name, "my \"app\"");
  EXPECT_EQ(recs[1].message, "line one\nline two");
  EXPECT_EQ(recs[1].detail, "det");
  EXPECT_EQ(bad.counts["bad_csv"], 1u);
}

TEST(Jsonlog, ParsesFields) {
  BadInput bad;
  std::string text =
      R"({"timestamp":"2026-08-20 10:15:02.123 UTC","user":"app","dbname":"d","pid":77,)"
      R"("remote_host":"10.0.0.5","remote_port":5000,"error_severity":"FATAL","state_code":"57P05",)"
      R"("message":"terminating connection due to idle-session timeout","application_name":"api"})"
      "\n{not json\n";
  auto recs = read_all(Format::Jsonlog, text, &bad);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].pid, 77);
  EXPECT_EQ(recs[0].port, "5000");
  EXPECT_EQ(recs[0].application_name, "api");
  EXPECT_EQ(classify(Source::Postgres, recs[0].level, recs[0].message), "pg.idle_session_timeout");
  EXPECT_EQ(bad.counts["bad_json"], 1u);
}

TEST(Pgbouncer, ParsesSocketAndReason) {
  BadInput bad;
  std::string text =
      "2026-08-20 10:15:02.123 UTC [321] LOG S-0x55d5c2a0: appdb/app@10.0.0.7:5432 closing "
      "because: server conn crashed? (age=351s)\n"
      "2026-08-20 10:15:03.000 UTC [321] LOG C-0x1: appdb/app@10.0.0.9:40000 closing because: "
      "query_wait_timeout (age=120s)\n";
  auto recs = read_all(Format::Pgbouncer, text, &bad);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].database, "appdb");
  EXPECT_EQ(recs[0].user, "app");
  EXPECT_EQ(recs[0].host, "10.0.0.7");
  EXPECT_EQ(recs[0].message, "closing because: server conn crashed? (age=351s)");
  Captures c;
  EXPECT_EQ(builtin().rule(builtin().classify(recs[0], Source::Pgbouncer, &c)).cls,
            "pgbouncer.server_conn_crashed");
  EXPECT_EQ(builtin().rule(builtin().classify(recs[1], Source::Pgbouncer, &c)).cls,
            "pgbouncer.query_wait_timeout");
}

TEST(AppLogs, JsonLinesWithoutTimestampAndMixedText) {
  BadInput bad;
  std::string text =
      R"({"level":"ERROR","worker":"change-streamer","pid":95,"code":"CONNECTION_CLOSED","errorMsg":"write CONNECTION_CLOSED db:5432","message":"retrying change-streamer in 25 ms"})"
      "\nplain text line: Connection terminated unexpectedly\n";
  auto recs = read_all(Format::JsonLines, text, &bad);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_FALSE(recs[0].has_ts);
  EXPECT_EQ(recs[0].application_name, "change-streamer");
  EXPECT_EQ(recs[0].message, "retrying change-streamer in 25 ms");
  EXPECT_EQ(recs[1].format, Format::Text);
}

TEST(Detect, Formats) {
  EXPECT_EQ(detect_format({"2026-08-20 10:15:02.123 UTC [1] LOG:  x"}), Format::Stderr);
  EXPECT_EQ(detect_format({"2026-08-20 10:15:02.123 UTC,\"u\",\"d\",1,,a,1,,,,0,LOG,00000,\"x\""}),
            Format::Csvlog);
  EXPECT_EQ(
      detect_format({R"({"timestamp":"2026-08-20 10:15:02.123 UTC","error_severity":"LOG"})"}),
      Format::Jsonlog);
  EXPECT_EQ(detect_format({R"({"ts":"2026-08-20T10:15:02Z","event":"server.close","cause":"x"})"}),
            Format::Pgwarden);
  EXPECT_EQ(detect_format({R"({"level":"INFO","message":"hi"})"}), Format::JsonLines);
  EXPECT_EQ(detect_format({"2026-08-20 10:15:02.123 UTC [5] LOG C-0x1: a/b@c:1 login attempt: x"}),
            Format::Pgbouncer);
  EXPECT_EQ(detect_format({"Error: read ECONNRESET", "    at TCP.onStreamRead"}), Format::Text);
}

// ------------------------------------------------------------------ bad input
TEST(BadInputTest, BinaryLongAndInvalidUtf8) {
  BadInput bad;
  std::vector<std::string> lines;
  LineSplitter split([&](std::string_view l, uint64_t) { lines.emplace_back(l); }, &bad, "f", 64);
  std::string text = "ok\r\n";
  text += std::string("bin\0ary", 7) + "\n";
  text += std::string(200, 'x') + "\n";
  text += "caf\xe9 latin1\n";
  text += "last without newline";
  // feed in odd-sized chunks to exercise partial lines
  for (size_t i = 0; i < text.size(); i += 7) split.feed(std::string_view(text).substr(i, 7));
  split.finish();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "ok");
  EXPECT_EQ(lines[1].size(), 64u);
  EXPECT_EQ(lines[3], "last without newline");
  EXPECT_EQ(bad.counts["binary"], 1u);
  EXPECT_EQ(bad.counts["too_long"], 1u);
  EXPECT_EQ(bad.counts["invalid_utf8"], 1u);
  EXPECT_EQ(bad.examples["binary"][0], "f:2: bin\\x00ary");
}

TEST(BadInputTest, JsonEscapingReplacesInvalidUtf8) {
  std::string out;
  append_json_string(out, "a\"b\\\n\x01\xff\xc3\xa9");
  EXPECT_EQ(out, "\"a\\\"b\\\\\\n\\u0001\xef\xbf\xbd\xc3\xa9\"");
  EXPECT_TRUE(valid_utf8("\xc3\xa9"));
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));  // surrogate
}

TEST(BadInputTest, RandomGarbageNeverCrashes) {
  std::string junk;
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245 + 12345;
    char c = static_cast<char>(x >> 16);
    if (i % 97 == 0) c = '\n';
    junk += c;
  }
  for (Format f : {Format::Stderr, Format::Csvlog, Format::Jsonlog, Format::Pgbouncer,
                   Format::Pgwarden, Format::JsonLines, Format::Text}) {
    BadInput bad;
    Analyzer an(builtin(), {});
    an.begin_file("junk", f, 0);
    ReaderOptions o;
    auto r = make_reader(
        f, o, [&](Record& rec) { an.add(rec); }, &bad);
    LineSplitter split([&](std::string_view l, uint64_t n) { r->line(l, n); }, &bad, "junk");
    split.feed(junk);
    split.finish();
    r->finish();
    std::ostringstream os;
    write_json(os, an, {});
    EXPECT_FALSE(os.str().empty());
  }
}

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

// ------------------------------------------------------------------ analysis
namespace {
Record pg(int64_t ts_s, int64_t pid, const std::string& level, const std::string& msg) {
  Record r;
  r.format = Format::Stderr;
  r.ts_us = ts_s * 1000000;
  r.has_ts = true;
  r.pid = pid;
  r.level = level;
  r.message = msg;
  return r;
}
}  // namespace

TEST(Analysis, PidJoinGivesRdsLinesTheirApplication) {
  Analyzer an(builtin(), {});
  an.begin_file("pg.log", Format::Stderr, 0);
  std::vector<Event> events;
  std::vector<std::string> apps;
  an.on_event = [&](const Event& e) { apps.emplace_back(e.application_name); };
  Record a = pg(100, 42, "LOG", "connection received: host=10.0.0.5 port=5555");
  an.add(a);
  Record b = pg(100, 42, "LOG",
                "connection authorized: user=app database=appdb application_name=zero-replicator");
  an.add(b);
  Record c = pg(200, 42, "LOG", "terminating walsender process due to replication timeout");
  an.add(c);
  Record d = pg(200, 42, "LOG",
                "disconnection: session time: 0:01:40.000 user=app database=appdb host=10.0.0.5 "
                "port=5555");
  an.add(d);
  Record e = pg(201, 42, "FATAL", "terminating connection due to administrator command");
  an.add(e);  // a later backend reusing the PID: no stale join
  ASSERT_EQ(apps.size(), 5u);
  EXPECT_EQ(apps[2], "zero-replicator");
  EXPECT_EQ(apps[3], "zero-replicator");
  EXPECT_EQ(apps[4], "");
  EXPECT_EQ(an.by("application").at("zero-replicator").size(), 3u);
}

TEST(Analysis, IdleCutClusterIsDetected) {
  Analyzer an(builtin(), {});
  an.begin_file("pg.log", Format::Stderr, 0);
  int pid = 1;
  for (int i = 0; i < 40; ++i) {  // sessions cut just past 350 s
    Record r = pg(1000 + i, pid++, "LOG",
                  "disconnection: session time: 0:05:5" + std::to_string(i % 4) +
                      ".100 user=a database=b host=h port=1");
    an.add(r);
  }
  for (int i = 0; i < 60; ++i) {  // short web sessions
    Record r = pg(2000 + i, pid++, "LOG",
                  "disconnection: session time: 0:00:0" + std::to_string(i % 9) +
                      ".100 user=a database=b host=h port=1");
    an.add(r);
  }
  auto clusters = an.session_clusters();
  ASSERT_EQ(clusters.size(), 1u);
  EXPECT_EQ(clusters[0].from_s, 350);
  EXPECT_EQ(clusters[0].sessions, 40u);
  EXPECT_NE(clusters[0].suspect.find("350"), std::string::npos);
  EXPECT_EQ(an.sessions().coarse[4], 40u);  // 1-10 min
}

TEST(Analysis, IncidentVerdictNamesTheFirstFailureAcrossSources) {
  AnalyzerOptions o;
  o.incident_gap_us = 30'000'000;
  Analyzer an(builtin(), o);
  uint32_t pgf = an.begin_file("pg.log", Format::Stderr, 0);
  uint32_t app = an.begin_file("api.log", Format::JsonLines, 0);
  auto app_line = [&](int64_t ts_ms, const std::string& text) {
    Record r;
    r.format = Format::JsonLines;
    r.file_index = app;
    r.ts_us = ts_ms * 1000;
    r.has_ts = true;
    r.line = r.message = text;
    an.add(r);
  };
  // incident 1: the server is killed first, then the app sees it
  Record k = pg(1000, 1, "LOG", "server process (PID 77) was terminated by signal 9: Killed");
  k.file_index = pgf;
  an.add(k);
  app_line(1000200, "Error: Connection terminated unexpectedly");
  app_line(1000300, "Error: Connection terminated unexpectedly");
  Record t = pg(1001, 1, "LOG", "terminating any other active server processes");
  t.file_index = pgf;
  an.add(t);
  // incident 2, two minutes later: the app's pool runs dry first
  app_line(1120000, "Error: timeout exceeded when trying to connect");
  Record m = pg(1121, 5, "FATAL", "sorry, too many clients already");
  m.file_index = pgf;
  an.add(m);
  // a lone failure is not an incident
  app_line(1500000, "Error: read ECONNRESET");
  auto inc = an.incidents();
  ASSERT_EQ(inc.size(), 2u);
  EXPECT_EQ(inc[0].failures, 4u);
  EXPECT_EQ(inc[0].steps[0].cls, "pg.backend_killed_sigkill");
  EXPECT_EQ(inc[0].steps[1].cls, "app.pg.connection_terminated_unexpectedly");
  EXPECT_EQ(inc[0].steps[1].count, 2u);
  EXPECT_NE(inc[0].verdict.find("postgres failed first: pg.backend_killed_sigkill"),
            std::string::npos);
  EXPECT_EQ(inc[1].steps[0].component, "node-postgres");
  EXPECT_EQ(inc[1].steps[0].cls, "app.pg.pool_checkout_timeout");
}

TEST(Analysis, LinesWithoutTimestampsFollowFileOrder) {
  AnalyzerOptions o;
  o.assume_start_us = 5'000'000;
  Analyzer an(builtin(), o);
  an.begin_file("zero.log", Format::JsonLines, o.assume_start_us);
  std::vector<int64_t> ts;
  std::vector<bool> est;
  an.on_event = [&](const Event& e) {
    ts.push_back(e.ts_us);
    est.push_back(e.ts_estimated);
  };
  for (int i = 0; i < 3; ++i) {
    Record r;
    r.format = Format::JsonLines;
    r.line = r.message = "replication stream closed by db:5432";
    an.add(r);
  }
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(ts[0], 5'000'001);
  EXPECT_LT(ts[0], ts[1]);
  EXPECT_LT(ts[1], ts[2]);
  EXPECT_TRUE(est[0]);
}

TEST(Analysis, MergeAddsUp) {
  Analyzer a(builtin(), {}), b(builtin(), {});
  a.begin_file("1", Format::Stderr, 0);
  b.begin_file("2", Format::Stderr, 0);
  Record r = pg(10, 1, "FATAL", "sorry, too many clients already");
  a.add(r);
  b.add(r);
  b.add(r);
  a.merge(std::move(b));
  EXPECT_EQ(a.files().size(), 2u);
  EXPECT_EQ(a.failures(), 3u);
  EXPECT_EQ(a.classes()[static_cast<size_t>(builtin().find("pg.too_many_clients"))].count, 3u);
}

TEST(Analysis, IncidentMinZeroIsSafe) {
  AnalyzerOptions o;
  o.incident_min = 0;
  Analyzer an(builtin(), o);
  EXPECT_TRUE(an.incidents().empty());
  an.begin_file("pg.log", Format::Stderr, 0);
  Record r = pg(10, 1, "FATAL", "sorry, too many clients already");
  an.add(r);
  auto inc = an.incidents();
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(inc[0].failures, 1u);
  EXPECT_EQ(an.session_clusters().size(), 0u);
}

TEST(Analysis, ClustersPerApplication) {
  Analyzer an(builtin(), {});
  an.begin_file("pg.log", Format::Stderr, 0);
  int64_t pid = 1;
  auto session = [&](const std::string& app, const std::string& time) {
    Record a =
        pg(100, pid, "LOG", "connection authorized: user=u database=d application_name=" + app);
    an.add(a);
    Record d = pg(500, pid, "LOG",
                  "disconnection: session time: " + time + " user=u database=d host=h port=1");
    an.add(d);
    ++pid;
  };
  for (int i = 0; i < 8; ++i) session("zero-replicator", "0:05:5" + std::to_string(i % 3) + ".000");
  for (int i = 0; i < 300; ++i) session("api", "0:00:0" + std::to_string(i % 9) + ".500");
  for (int i = 0; i < 100; ++i) {  // long API sessions spread evenly from 30 s to 1020 s
    int secs = 30 + i * 10;
    char t[32];
    std::snprintf(t, sizeof t, "0:%02d:%02d.000", secs / 60, secs % 60);
    session("api", t);
  }
  ASSERT_EQ(an.app_sessions().size(), 2u);
  EXPECT_EQ(an.app_sessions().at("zero-replicator").count, 8u);
  auto z = Analyzer::find_clusters(an.app_sessions().at("zero-replicator"));
  ASSERT_EQ(z.size(), 1u);
  EXPECT_EQ(z[0].from_s, 350);
  EXPECT_TRUE(Analyzer::find_clusters(an.app_sessions().at("api")).empty());
  std::ostringstream os;
  write_summary(os, an, {});
  EXPECT_NE(os.str().find("CLUSTER in zero-replicator: 8 of its 8 sessions lasted 350-360 s"),
            std::string::npos)
      << os.str();
}
