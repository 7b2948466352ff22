// Capture prefixes: the times docker, kubectl, journald and CloudWatch add to
// the lines of apps that log without one (zero-cache), with samples shaped as
// each tool prints them.
#include <gtest/gtest.h>

#include "pgwarden/logs/analysis.hpp"
#include "pgwarden/logs/capture.hpp"
#include "unit_support.hpp"

using namespace pgw::logs;
using namespace pgw::logs::unit;

namespace {

// 2026-12-02T16:21:35.123456Z
constexpr int64_t kAt = 1'796'228'495'123'456;
// zero-cache's own lines carry no time.
const std::string kZeroJson =
    R"({"level":"WARN","worker":"change-streamer","name":"PostgresError","severity":"FATAL",)"
    R"("code":"0A000","errorMsg":"logical decoding requires wal_level >= logical"})";
const std::string kZeroExit =
    "pid 4242 exiting with error PostgresError: logical decoding requires wal_level >= logical";

std::vector<std::string> lines_of(const std::string& a, const std::string& b) {
  return {a, b, a, b, a};
}

struct Sample {
  const char* tool;
  std::string line;  // as the capture tool prints it
  Capture capture;
  std::string app_line;  // what the app wrote
  int64_t ts_us;
};

std::vector<Sample> samples() {
  return {
      {"docker logs -t", "2026-12-02T16:21:35.123456000Z " + kZeroJson, Capture::Rfc3339, kZeroJson,
       kAt},
      {"kubectl logs --timestamps", "2026-12-02T16:21:35.123456Z " + kZeroExit, Capture::Rfc3339,
       kZeroExit, kAt},
      {"journalctl -o short-iso", "2026-12-02T16:21:35+0000 app-1 zero-cache[4242]: " + kZeroExit,
       Capture::JournaldShortIso, kZeroExit, kAt - 123'456},
      {"journalctl -o short-iso-precise",
       "2026-12-02T16:21:35.123456+00:00 app-1 zero-cache[4242]: " + kZeroJson,
       Capture::JournaldShortIso, kZeroJson, kAt},
      {"journalctl -o json",
       R"({"__CURSOR":"s=5d1c;i=2a41","__REALTIME_TIMESTAMP":"1796228495123456",)"
       R"("__MONOTONIC_TIMESTAMP":"88123456","_BOOT_ID":"8f2c","PRIORITY":"6","_PID":"4242",)"
       R"("_COMM":"node","SYSLOG_IDENTIFIER":"zero-cache","_HOSTNAME":"app-1","MESSAGE":")" +
           kZeroExit + R"("})",
       Capture::JournaldJson, kZeroExit, kAt},
      {"aws logs tail", "2026-12-02T16:21:35.123456+00:00 zero-cache/zero/3f9a1c " + kZeroExit,
       Capture::CloudWatchTail, kZeroExit, kAt},
      {"aws logs filter-log-events (events as JSON lines)",
       R"({"logStreamName":"zero-cache/zero/3f9a1c","timestamp":1796228495123,"message":")" +
           kZeroExit + R"(\n","ingestionTime":1796228495301,"eventId":"3791862"})",
       Capture::CloudWatchJson, kZeroExit, kAt - 456},
  };
}

}  // namespace

TEST(Capture, EachToolsPrefixIsRecognisedAndStripped) {
  for (const Sample& s : samples()) {
    SCOPED_TRACE(s.tool);
    EXPECT_EQ(detect_capture(lines_of(s.line, s.line)), s.capture);
    auto captured = strip_capture(s.capture, s.line);
    ASSERT_TRUE(captured.has_value());
    EXPECT_EQ(captured->line, s.app_line);
    ASSERT_TRUE(captured->ts_us.has_value());
    EXPECT_EQ(*captured->ts_us, s.ts_us);
  }
}

TEST(Capture, TheAppsFormatIsDetectedBeneathThePrefix) {
  const auto all = samples();
  EXPECT_EQ(detect_input(lines_of(all[0].line, all[0].line)).format, Format::JsonLines);
  EXPECT_EQ(detect_input(lines_of(all[1].line, all[1].line)).format, Format::Text);
  EXPECT_EQ(detect_input(lines_of(all[4].line, all[4].line)).format, Format::Text);
}

TEST(Capture, LinesWithoutACaptureAreNotTakenForOne) {
  // zero-cache redirected to a file: no time at all.
  EXPECT_EQ(detect_capture(lines_of(kZeroJson, kZeroExit)), Capture::None);
  // An app's own JSON with "timestamp" and "message" is not a CloudWatch event.
  EXPECT_EQ(detect_capture(lines_of(R"({"timestamp":1796228495123,"message":"ready"})",
                                    R"({"timestamp":1796228495124,"message":"listening"})")),
            Capture::None);
  // A PostgreSQL stderr log: its own "%m" time has a space, not a 'T'.
  const std::string pg = "2026-12-02 16:21:35.123 UTC [4242] LOG:  checkpoint starting: time";
  EXPECT_EQ(detect_capture(lines_of(pg, pg)), Capture::None);
  // An RDS log exported from CloudWatch keeps its own times and reader.
  const std::string rds =
      "2026-12-02T16:21:35.123Z 2026-12-02 16:21:35 UTC:10.0.0.7(51234):"
      "app@app:[4242]:LOG:  connection authorized: user=app database=app";
  InputKind kind = detect_input(lines_of(rds, rds));
  EXPECT_EQ(kind.capture, Capture::None);
  EXPECT_EQ(kind.format, Format::Stderr);
  // A journal line of a message with a colon but no "ident[pid]" is not
  // enough to call a file a journal (aws logs tail prints "stream message").
  const std::string tail =
      "2026-12-02T16:21:35.123456+00:00 zero/3f9a1c TypeError: Cannot read "
      "properties of null (reading 'write')";
  EXPECT_EQ(detect_capture(lines_of(tail, tail)), Capture::CloudWatchTail);
  EXPECT_EQ(strip_capture(Capture::CloudWatchTail, tail)->line,
            "TypeError: Cannot read properties of null (reading 'write')");
}

TEST(Capture, RecordsTakeTheCaptureTimeAndKeepTheirOwnFields) {
  const std::string text = "2026-12-02T16:21:35.123456000Z " + kZeroJson + "\n" +
                           "2026-12-02T16:21:36.000000000Z " + kZeroExit + "\n";
  std::vector<Record> records;
  BadInput bad;
  ReaderOptions o;
  o.file_name = "zero.log";
  auto reader = make_input_reader(
      {Format::JsonLines, Capture::Rfc3339}, o, [&](Record& r) { records.push_back(r); }, &bad);
  LineSplitter split([&](std::string_view l, uint64_t n) { reader->line(l, n); }, &bad, "zero.log");
  split.feed(text);
  split.finish();
  reader->finish();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[0].has_ts);
  EXPECT_EQ(records[0].ts_us, kAt);
  EXPECT_EQ(records[0].level, "WARN");
  EXPECT_EQ(records[0].line, kZeroJson);
  EXPECT_EQ(records[1].ts_us, 1'796'228'496'000'000);
  EXPECT_EQ(records[1].message, kZeroExit);
}

TEST(Capture, EventsWithoutATimeAreCountedAsInferred) {
  // A file whose capture lost the prefix on one line (a line the tool wrote
  // on its own): that event is placed after its timed neighbour and counted.
  AnalyzerOptions opts;
  Analyzer an(builtin(), opts);
  uint32_t fi = an.begin_file("zero.log", Format::Text, 0);
  std::vector<bool> estimated;
  an.on_event = [&](const Event& e) { estimated.push_back(e.ts_estimated); };
  Record timed;
  timed.format = Format::Text;
  timed.file_index = fi;
  timed.ts_us = kAt;
  timed.has_ts = true;
  timed.line = timed.message = "Error: Connection terminated unexpectedly";
  an.add(timed);
  Record untimed = timed;
  untimed.has_ts = false;
  untimed.ts_us = 0;
  an.add(untimed);
  ASSERT_EQ(estimated, (std::vector<bool>{false, true}));
  EXPECT_EQ(an.files()[fi].events, 2u);
  EXPECT_EQ(an.files()[fi].events_inferred_ts, 1u);
}
