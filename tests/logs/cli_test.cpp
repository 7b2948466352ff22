// The pgwarden binary end to end on prepared inputs: exit codes, gzip, stdin,
// globs, parallel files, HTML, --follow, user rule packs, CloudWatch/RDS lines,
// PgBouncer and pgwarden inputs, zero-cache lines without timestamps, garbage.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <thread>

#include "support.hpp"

using namespace pgw::test;
using namespace std::chrono_literals;

namespace {
void write(const std::filesystem::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}
void append(const std::filesystem::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary | std::ios::app) << s;
}

const char* kServerLog =
    "2026-08-20 10:00:00.100 UTC [100] LOG:  connection received: host=10.0.0.5 port=5000\n"
    "2026-08-20 10:00:00.110 UTC [100] LOG:  connection authorized: user=app database=app "
    "application_name=api\n"
    "2026-08-20 10:05:50.200 UTC [100] LOG:  could not receive data from client: Connection "
    "timed out\n"
    "2026-08-20 10:05:50.201 UTC [100] LOG:  disconnection: session time: 0:05:50.101 user=app "
    "database=app host=10.0.0.5 port=5000\n"
    "2026-08-20 10:05:51.000 UTC [101] FATAL:  sorry, too many clients already\n";

const char* kCleanLog =
    "2026-08-20 10:00:00.100 UTC [100] LOG:  connection received: host=10.0.0.5 port=5000\n"
    "2026-08-20 10:00:00.110 UTC [100] LOG:  connection authorized: user=app database=app\n";
}  // namespace

TEST(LogsCli, ExitCodes) {
  TempDir t;
  write(t.path / "clean.log", kCleanLog);
  write(t.path / "bad.log", kServerLog);
  write(t.path / "broken.toml", "[[rule]]\nclass = \"x\"\nseverity = \"loud\"\n");
  EXPECT_EQ(run_logs((t.path / "clean.log").string()).code, 0);
  EXPECT_EQ(run_logs((t.path / "bad.log").string()).code, 1);
  EXPECT_EQ(run_logs((t.path / "missing.log").string()).code, 2);
  EXPECT_EQ(run_logs("--rules " + (t.path / "broken.toml").string() + " " +
                     (t.path / "clean.log").string())
                .code,
            2);
  EXPECT_EQ(run_logs("--prefix '%Z' " + (t.path / "clean.log").string()).code, 2);
  EXPECT_EQ(run_logs("--format nope " + (t.path / "clean.log").string()).code, 2);
  Result s = run_logs((t.path / "bad.log").string());
  EXPECT_NE(s.out.find("pg.client_timed_out"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("Incidents: 1"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("postgres failed first: pg.client_timed_out"), std::string::npos) << s.out;
}

TEST(LogsCli, GzipStdinGlobAndParallelFiles) {
  TempDir t;
  write(t.path / "a.log", kServerLog);
  {
    gzFile gz = gzopen((t.path / "b.log.gz").c_str(), "wb");
    gzputs(gz, kServerLog);
    gzclose(gz);
  }
  auto rep = report("'" + (t.path / "*.log*").string() + "'");
  ASSERT_TRUE(rep.contains("classes")) << rep.dump();
  EXPECT_EQ(rep["inputs"].size(), 2u);
  EXPECT_EQ(class_count(rep, "pg.too_many_clients"), 2u);
  EXPECT_EQ(class_count(rep, "pg.client_timed_out"), 2u);
  Result in;
  in.code = run_command("cat " + (t.path / "a.log").string() + " | " + pgwarden_bin() +
                            " logs --output json - 2>/dev/null",
                        &in.out);
  auto j = nlohmann::json::parse(in.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << in.out;
  EXPECT_EQ(in.code, 1);
  EXPECT_EQ(class_count(j, "pg.too_many_clients"), 1u);
  EXPECT_EQ(j["inputs"][0]["file"], "(stdin)");
  // many files on several threads add up to the same as one thread
  std::string files;
  for (int i = 0; i < 8; ++i) {
    write(t.path / ("p" + std::to_string(i) + ".log"), kServerLog);
    files += " " + (t.path / ("p" + std::to_string(i) + ".log")).string();
  }
  auto par = report("-j 4" + files);
  auto seq = report("-j 1" + files);
  EXPECT_EQ(class_count(par, "pg.too_many_clients"), 8u);
  EXPECT_EQ(par["classes"], seq["classes"]);
  EXPECT_EQ(par["sessions"], seq["sessions"]);
}

TEST(LogsCli, HtmlReportIsSelfContained) {
  TempDir t;
  std::string many;
  for (int i = 0; i < 30; ++i) many += kServerLog;
  write(t.path / "a.log", many);
  auto out = t.path / "r.html";
  EXPECT_EQ(run_logs("--output html -o " + out.string() + " " + (t.path / "a.log").string()).code,
            1);
  std::string html = read_file(out);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("pg.too_many_clients"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(LogsCli, FollowWritesEventsAsLinesArrive) {
  TempDir t;
  auto log = t.path / "live.log";
  auto out = t.path / "events.jsonl";
  write(log, kCleanLog);
  pid_t child = ::fork();
  if (child == 0) {
    std::string bin = pgwarden_bin();
    std::string lp = log.string();
    std::freopen(out.c_str(), "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    ::execl(bin.c_str(), bin.c_str(), "logs", "--follow", "--from-start", "--max-idle", "3",
            lp.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(child, 0);
  std::this_thread::sleep_for(400ms);
  append(log,
         "2026-08-20 10:06:00.000 UTC [200] FATAL:  terminating connection due to "
         "administrator command\n");
  std::this_thread::sleep_for(400ms);
  append(log,
         "2026-08-20 10:06:01.000 UTC [201] LOG:  server process (PID 7) was terminated by "
         "signal 9: Killed\n2026-08-20 10:06:01.000 UTC [201] DETAIL:  Failed process was "
         "running: select 1\n");
  // --max-idle ends the tail; bound the wait anyway.
  bool exited = wait_process_gone(child, 20);
  if (!exited) ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(exited);
  std::string events = read_file(out);
  std::vector<nlohmann::json> lines;
  std::istringstream is(events);
  for (std::string l; std::getline(is, l);) lines.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(lines.size(), 4u) << events;
  EXPECT_EQ(lines[0]["class"], "pg.connection_received");
  EXPECT_EQ(lines[2]["class"], "pg.admin_terminate");
  EXPECT_EQ(lines[3]["class"], "pg.backend_killed_sigkill");
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1);
}

TEST(LogsCli, UserRulePackExtendsAndOverrides) {
  TempDir t;
  write(t.path / "app.log",
        "2026-08-20T10:00:00Z checkout failed for order 7\n"
        "2026-08-20T10:00:01Z canceling statement due to statement timeout\n");
  write(t.path / "mine.toml",
        "[[rule]]\nclass = \"shop.checkout_failed\"\nsource = \"app\"\nfield = \"line\"\n"
        "contains = [\"checkout failed\"]\nseverity = \"error\"\nfailure = true\n"
        "meaning = \"the shop lost a checkout\"\n\n"
        "[[rule]]\nclass = \"app.server.statement_timeout\"\ndisabled = true\n");
  auto rep =
      report("--rules " + (t.path / "mine.toml").string() + " " + (t.path / "app.log").string());
  EXPECT_EQ(class_count(rep, "shop.checkout_failed"), 1u) << rep.dump();
  EXPECT_EQ(class_count(rep, "app.server.statement_timeout"), 0u);
  Result lc = run_logs("--list-classes --rules " + (t.path / "mine.toml").string());
  EXPECT_NE(lc.out.find("shop.checkout_failed\terror\tapp\tthe shop lost a checkout"),
            std::string::npos);
  Result dump = run_logs("--dump-rules");
  EXPECT_EQ(dump.code, 0);
  EXPECT_NE(dump.out.find("class = \"pg.too_many_clients\""), std::string::npos);
  // the dumped pack is a valid user pack
  write(t.path / "dumped.toml", dump.out);
  auto again = report("--no-builtin-rules --rules " + (t.path / "dumped.toml").string() + " " +
                      (t.path / "app.log").string());
  EXPECT_EQ(class_count(again, "app.server.statement_timeout"), 1u) << again.dump();
  EXPECT_EQ(again["exit_code"], 0);  // a statement timeout is not a connection failure
}

TEST(LogsCli, RdsLinesExportedFromCloudWatch) {
  TempDir t;
  write(t.path / "rds.log",
        "2026-08-20T10:00:00.000Z 2026-08-20 10:00:00 UTC:10.0.1.23(51234):[unknown]@[unknown]:"
        "[12345]:LOG:  connection received: host=10.0.1.23 port=51234\n"
        "2026-08-20T10:00:00.000Z 2026-08-20 10:00:00 UTC:10.0.1.23(51234):app@appdb:[12345]:LOG:"
        "  connection authorized: user=app database=appdb application_name=zero-replicator\n"
        "2026-08-20T10:01:00.000Z 2026-08-20 10:01:00 UTC:10.0.1.23(51234):app@appdb:[12345]:LOG:"
        "  terminating walsender process due to replication timeout\n"
        "2026-08-20T10:01:00.000Z 2026-08-20 10:01:00 UTC::@:[678]:LOG:  checkpoint starting: "
        "time\n"
        "2026-08-20T10:01:01.000Z 2026-08-20 10:01:01 UTC:10.0.1.9(4000):app@appdb:[12346]:FATAL:"
        "  remaining connection slots are reserved for roles with privileges of the "
        "\"rds_reserved\" role\n");
  auto rep = report((t.path / "rds.log").string());
  EXPECT_EQ(rep["inputs"][0]["prefix"], "%t:%r:%u@%d:[%p]:") << rep.dump();
  EXPECT_EQ(class_count(rep, "pg.walsender_timeout"), 1u);
  EXPECT_EQ(class_count(rep, "pg.reserved_slots_rds"), 1u);
  EXPECT_EQ(dim_count(rep, "application", "zero-replicator", "pg.walsender_timeout"), 1u);
  EXPECT_EQ(rep["bad_input"]["total"], 0);
}

TEST(LogsCli, AppLinesTakeTheirCaptureTimeAndTheRestAreInferred) {
  // `docker logs -t` of a Node app that prints no time; one line came
  // without the prefix (written by the tool itself) and gets an inferred time.
  TempDir t;
  write(t.path / "api.log",
        "2026-12-02T16:21:35.123456000Z Error: Connection terminated unexpectedly\n"
        "2026-12-02T16:21:35.200000000Z     at Connection.<anonymous> (pg/lib/client.js:132:73)\n"
        "2026-12-02T16:21:36.000000000Z Error: Connection terminated unexpectedly\n"
        "Error: Connection terminated unexpectedly\n"
        "2026-12-02T16:21:37.000000000Z Error: Connection terminated unexpectedly\n"
        "2026-12-02T16:21:38.000000000Z Error: Connection terminated unexpectedly\n");
  auto rep = report((t.path / "api.log").string());
  ASSERT_EQ(rep["inputs"].size(), 1u) << rep.dump();
  const auto& in = rep["inputs"][0];
  EXPECT_EQ(in["format"], "text") << in.dump();
  EXPECT_EQ(in["capture"], "rfc3339") << in.dump();
  EXPECT_EQ(in["first_ts"], "2026-12-02T16:21:35.123456Z") << in.dump();
  EXPECT_EQ(in["last_ts"], "2026-12-02T16:21:38.000000Z") << in.dump();
  EXPECT_EQ(in["events"], 5);
  EXPECT_EQ(in["events_inferred_ts"], 1);
  Result ev = run_logs("--output events " + (t.path / "api.log").string());
  size_t estimated = ev.out.find("\"ts_estimated\":true");
  ASSERT_NE(estimated, std::string::npos) << ev.out;
  // Placed right after its timed neighbour at 16:21:36.
  size_t line_start = ev.out.rfind('\n', estimated) + 1;
  EXPECT_NE(ev.out.find("2026-12-02T16:21:36.000001Z", line_start), std::string::npos) << ev.out;
  Result summary = run_logs((t.path / "api.log").string());
  EXPECT_NE(summary.out.find("text behind rfc3339 capture times"), std::string::npos)
      << summary.out;
  EXPECT_NE(summary.out.find("(1 with an inferred time"), std::string::npos) << summary.out;
}

TEST(LogsCli, PgbouncerPgwardenAndZeroInputs) {
  TempDir t;
  write(t.path / "pgbouncer.log",
        "2026-08-20 10:00:00.000 UTC [321] LOG C-0x55d5c2a0: app/app@10.0.0.9:40000 login "
        "attempt: db=app user=app tls=no\n"
        "2026-08-20 10:05:50.000 UTC [321] LOG S-0x55d5c2b0: app/app@10.0.0.7:5432 closing "
        "because: server conn crashed? (age=350s)\n"
        "2026-08-20 10:05:51.000 UTC [321] WARNING C-0x55d5c2a0: app/app@10.0.0.9:40000 closing "
        "because: query_wait_timeout (age=120s)\n");
  write(
      t.path / "pgwarden.jsonl",
      R"({"ts":"2026-08-20T10:05:49.000000Z","event":"server.close","cause":"peer_reset","conn_id":7,"backend_pid":99})"
      "\n"
      R"({"ts":"2026-08-20T10:05:49.500000Z","event":"pool.timeout","conn_id":8})"
      "\n");
  write(
      t.path / "zero.log",
      R"({"level":"ERROR","worker":"change-streamer","pid":95,"code":"CONNECTION_CLOSED","errorMsg":"write CONNECTION_CLOSED db:5432","message":"retrying change-streamer in 25 ms"})"
      "\n"
      R"({"level":"WARN","worker":"syncer","pid":96,"message":"resetting connection to db:5432 after 120000 ms of inactivity (likely half-open); in-flight queries will be rejected"})"
      "\n");
  auto rep = report("--incident-gap 5 " + (t.path / "pgbouncer.log").string() + " " +
                    (t.path / "pgwarden.jsonl").string());
  ASSERT_TRUE(rep.contains("inputs")) << rep.dump();
  EXPECT_EQ(rep["inputs"][0]["format"], "pgbouncer");
  EXPECT_EQ(rep["inputs"][1]["format"], "pgwarden");
  EXPECT_EQ(class_count(rep, "pgbouncer.server_conn_crashed"), 1u);
  EXPECT_EQ(class_count(rep, "pgbouncer.query_wait_timeout"), 1u);
  EXPECT_EQ(class_count(rep, "pgwarden.abnormal_close"), 1u);
  EXPECT_EQ(class_count(rep, "pgwarden.pool_timeout"), 1u);
  ASSERT_EQ(rep["incidents"].size(), 1u);
  EXPECT_EQ(rep["incidents"][0]["first"]["source"], "pgwarden");
  EXPECT_EQ(rep["incidents"][0]["first"]["class"], "pgwarden.abnormal_close");
  // zero-cache's JSON has no timestamp: file order after --assume-start
  Result ev = run_logs("--output events --assume-start 2026-08-20T10:05:00Z " +
                       (t.path / "zero.log").string());
  std::istringstream is(ev.out);
  std::vector<nlohmann::json> lines;
  for (std::string l; std::getline(is, l);) lines.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(lines.size(), 2u) << ev.out;
  EXPECT_EQ(lines[0]["class"], "app.postgresjs.connection_closed");
  EXPECT_EQ(lines[0]["application_name"], "change-streamer");
  EXPECT_EQ(lines[0]["ts"], "2026-08-20T10:05:00.000001Z");
  EXPECT_EQ(lines[0]["ts_estimated"], true);
  EXPECT_EQ(lines[0]["pid"], 95);  // the app's own process, not a backend
  EXPECT_FALSE(lines[0].contains("backend_pid"));
  EXPECT_EQ(lines[0]["side"], "server");
  EXPECT_EQ(lines[1]["class"], "app.zero.socket_inactivity_reset");
}

TEST(LogsCli, GarbageIsSkippedCountedAndNeverCrashes) {
  TempDir t;
  std::string junk;
  uint32_t x = 7;
  for (int i = 0; i < 300000; ++i) {
    x = x * 1664525 + 1013904223;
    junk += static_cast<char>(x >> 24);
  }
  write(t.path / "junk.bin", junk);
  std::string mixed = kServerLog;
  mixed += std::string(5 << 20, 'A') + "\n";  // one enormous line
  mixed += "2026-08-20 10:07:00.000 UTC [300] FATAL:  caf\xe9 \xff bad utf8 in a fatal\n";
  mixed += "{\"level\":\"error\",\"message\":\"a json line in a server log\"}\n";
  mixed += std::string("\0\0\0binary\0", 10) + "\n";
  mixed += "2026-08-20 10:07:01.000 UTC [301] FATAL:  the database system is starting up\n";
  write(t.path / "mixed.log", mixed);
  auto rep = report((t.path / "junk.bin").string() + " " + (t.path / "mixed.log").string());
  ASSERT_TRUE(rep.contains("bad_input")) << rep.dump().substr(0, 2000);
  EXPECT_GT(rep["bad_input"]["total"].get<uint64_t>(), 0u);
  EXPECT_EQ(rep["bad_input"]["by_reason"]["too_long"], 1);
  EXPECT_GE(rep["bad_input"]["by_reason"]["invalid_utf8"].get<int>(), 1);
  EXPECT_GE(rep["bad_input"]["by_reason"]["binary"].get<int>(), 1);
  EXPECT_EQ(class_count(rep, "pg.cannot_connect_starting_up"), 1u);
  EXPECT_EQ(class_count(rep, "pg.other_fatal"), 1u);  // the one with bad UTF-8
  // events stay valid JSON whatever the bytes
  Result ev = run_logs("--output events " + (t.path / "mixed.log").string());
  std::istringstream is(ev.out);
  for (std::string l; std::getline(is, l);) {
    EXPECT_FALSE(nlohmann::json::parse(l, nullptr, false).is_discarded()) << l;
  }
  Result html = run_logs("--output html " + (t.path / "junk.bin").string());
  EXPECT_NE(html.out.find("</html>"), std::string::npos);
}
