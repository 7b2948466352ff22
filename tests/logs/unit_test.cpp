// Unit tests of src/logs: prefixes, timestamps, multi-line joining, the
// readers, bad input and the analysis (the rule pack: rules_unit_test.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <sstream>

#include "pgwarden/logs/analysis.hpp"
#include "pgwarden/logs/output.hpp"
#include "pgwarden/logs/prefix.hpp"
#include "pgwarden/logs/readers.hpp"
#include "pgwarden/logs/rules.hpp"
#include "unit_support.hpp"

using namespace pgw::logs;
using namespace pgw::logs::unit;

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

TEST(Time, SessionTimeWithAbsurdHoursIsRejected) {
  // Found by fuzz_log_prefix: the hours overflowed int64 (undefined behaviour).
  EXPECT_FALSE(parse_session_time("99999999999999999999:00:00.000"));
  EXPECT_EQ(parse_session_time("8760:00:00.000"), int64_t{8760} * 3600 * 1000);  // a year
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

TEST(AppLogs, NumericTimestampOutOfRangeIsIgnored) {
  // A number no int64 of microseconds can hold is not a time (the cast was undefined).
  BadInput bad;
  auto recs = read_all(Format::JsonLines,
                       "{\"ts\":1e300,\"msg\":\"a\"}\n{\"time\":-1e300,\"msg\":\"b\"}\n"
                       "{\"ts\":1787220902123,\"msg\":\"c\"}\n",
                       &bad);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_FALSE(recs[0].has_ts);
  EXPECT_FALSE(recs[1].has_ts);
  ASSERT_TRUE(recs[2].has_ts);
  EXPECT_EQ(recs[2].ts_us, int64_t{1787220902123} * 1000);
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

TEST(Analysis, FollowAndStdinStampUntimedLinesOnArrival) {
  AnalyzerOptions o;
  Analyzer an(builtin(), o);
  uint32_t fi = an.begin_file("(stdin)", Format::JsonLines, 0);
  an.stamp_on_arrival(fi);
  std::vector<int64_t> ts;
  std::vector<bool> est;
  an.on_event = [&](const Event& e) {
    ts.push_back(e.ts_us);
    est.push_back(e.ts_estimated);
  };
  auto now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = now_us();
  for (int i = 0; i < 2; ++i) {
    Record r;
    r.format = Format::JsonLines;
    r.file_index = fi;
    r.line = r.message = "replication stream closed by db:5432";
    an.add(r);
  }
  const int64_t after = now_us();
  ASSERT_EQ(ts.size(), 2u);
  EXPECT_GE(ts[0], before);
  EXPECT_LT(ts[0], ts[1]);  // still in arrival order within one microsecond
  EXPECT_LE(ts[1], after + 1);
  EXPECT_TRUE(est[0]);
  EXPECT_EQ(an.files()[fi].events_inferred_ts, 2u);
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
