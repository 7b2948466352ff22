#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "observe_test_transport.hpp"
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/observe/file_transport.hpp"
#include "pgwarden/observe/sink.hpp"

using namespace pgw;
using namespace pgw::observe;
using namespace std::chrono_literals;
using pgw::test::eventually;
using pgw::test::TestTransport;
using pgw::test::TransportControl;

namespace {

ConnectionEvent named(const std::string& name) {
  ConnectionEvent e;
  e.event = name;
  return e;
}

void push_named(AsyncSink& sink, const std::string& name) {
  sink.push(named(name), name);
}

// Announcements the sink made, recorded from its thread.
struct Announced {
  std::mutex mu;
  std::vector<ConnectionEvent> events;
  std::function<void(ConnectionEvent)> callback() {
    return [this](ConnectionEvent e) {
      std::lock_guard lock(mu);
      events.push_back(std::move(e));
    };
  }
  std::vector<ConnectionEvent> get() {
    std::lock_guard lock(mu);
    return events;
  }
};

SinkOptions options(size_t queue, size_t batch, std::chrono::milliseconds flush_interval) {
  SinkOptions o;
  o.name = "test-sink";
  o.queue_size = queue;
  o.batch_size = batch;
  o.flush_interval = flush_interval;
  o.retry_min = 1ms;
  o.retry_max = 4ms;
  return o;
}

std::vector<std::string> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pgwarden-sink-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST(AsyncSink, DeliversFullBatchesAndFlushesTheRest) {
  auto control = std::make_shared<TransportControl>();
  AsyncSink sink(options(100, 3, 1h), std::make_unique<TestTransport>(control));
  for (int i = 0; i < 7; ++i) push_named(sink, "e" + std::to_string(i));
  ASSERT_TRUE(sink.flush(10s));
  EXPECT_EQ(control->batch_sizes(), (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(control->lines(), (std::vector<std::string>{"e0", "e1", "e2", "e3", "e4", "e5", "e6"}));
  auto h = sink.health();
  EXPECT_EQ(h.sent, 7u);
  EXPECT_EQ(h.queued, 0u);
  EXPECT_EQ(h.dropped, 0u);
  EXPECT_TRUE(h.up);
}

TEST(AsyncSink, AFullBatchIsDeliveredWithoutWaitingForTheInterval) {
  // The thread is woken for the first event and for a full batch only.
  auto control = std::make_shared<TransportControl>();
  AsyncSink sink(options(100, 3, 1h), std::make_unique<TestTransport>(control));
  for (int i = 0; i < 6; ++i) push_named(sink, "e" + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return control->lines().size() == 6; }));
  EXPECT_EQ(control->batch_sizes(), (std::vector<size_t>{3, 3}));
  push_named(sink, "partial");  // one event: held back for the (1 h) interval
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(control->lines().size(), 6u);
}

TEST(AsyncSink, FlushIntervalDeliversAPartialBatch) {
  auto control = std::make_shared<TransportControl>();
  AsyncSink sink(options(100, 100, 5ms), std::make_unique<TestTransport>(control));
  push_named(sink, "a");
  push_named(sink, "b");
  ASSERT_TRUE(eventually([&] { return control->lines().size() == 2; }));
  EXPECT_EQ(control->lines(), (std::vector<std::string>{"a", "b"}));
}

TEST(AsyncSink, PushNeverBlocksAndDropsTheNewestWhenFull) {
  auto control = std::make_shared<TransportControl>();
  control->set_blocked(true);
  Announced announced;
  AsyncSink sink(options(10, 1, 1ms), std::make_unique<TestTransport>(control),
                 announced.callback());
  push_named(sink, "first");
  ASSERT_TRUE(eventually([&] { return control->call_count() == 1; }));  // stuck in deliver()

  auto pushes = std::async(std::launch::async, [&] {
    for (int i = 0; i < 100; ++i) push_named(sink, "e" + std::to_string(i));
  });
  bool returned = pushes.wait_for(10s) == std::future_status::ready;
  auto stuck = sink.health();
  control->set_blocked(false);
  ASSERT_TRUE(returned) << "push() blocked while the transport was stuck";

  EXPECT_EQ(stuck.dropped, 90u);
  EXPECT_EQ(stuck.queued, 11u);  // ten waiting, one in deliver()
  EXPECT_EQ(stuck.sent, 0u);

  ASSERT_TRUE(sink.flush(10s));
  auto lines = control->lines();
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_EQ(lines.front(), "first");
  EXPECT_EQ(lines[1], "e0");
  EXPECT_EQ(lines.back(), "e9");  // e10..e99 were the newest, so dropped
  auto h = sink.health();
  EXPECT_EQ(h.sent, 11u);
  EXPECT_EQ(h.dropped, 90u);

  auto events = announced.get();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "sink.recovered");
  EXPECT_EQ(events[0].count, 90);
  EXPECT_EQ(events[0].sink, "test-sink");
}

TEST(AsyncSink, AnnouncesFailingThenRecoveredWithTheDroppedCount) {
  auto control = std::make_shared<TransportControl>();
  control->set_fail(true);
  Announced announced;
  AsyncSink sink(options(5, 1, 1ms), std::make_unique<TestTransport>(control),
                 announced.callback());
  push_named(sink, "a");
  ASSERT_TRUE(eventually([&] { return announced.get().size() == 1; }));
  auto failing = announced.get()[0];
  EXPECT_EQ(failing.event, "sink.failing");
  EXPECT_EQ(failing.cause, "sink_failing");
  EXPECT_EQ(failing.sink, "test-sink");
  EXPECT_EQ(failing.message, "event sink test-sink is failing: boom");
  EXPECT_EQ(to_json(failing).find("\"count\""), std::string::npos);

  for (int i = 0; i < 8; ++i) push_named(sink, "e" + std::to_string(i));  // 5 fit, 3 dropped
  auto h = sink.health();
  EXPECT_FALSE(h.up);
  EXPECT_EQ(h.last_error, "boom");
  EXPECT_GE(h.failures, 1u);
  EXPECT_EQ(h.dropped, 3u);
  EXPECT_EQ(h.queued, 6u);
  EXPECT_EQ(announced.get().size(), 1u);  // failing is announced once, not per retry

  control->set_fail(false);
  ASSERT_TRUE(eventually([&] { return announced.get().size() == 2; }));
  auto recovered = announced.get()[1];
  EXPECT_EQ(recovered.event, "sink.recovered");
  EXPECT_EQ(recovered.cause, "sink_recovered");
  EXPECT_EQ(recovered.count, 3);
  EXPECT_EQ(recovered.message, "event sink test-sink recovered; 3 events dropped meanwhile");
  EXPECT_NE(to_json(recovered).find("\"count\":3"), std::string::npos);

  ASSERT_TRUE(sink.flush(10s));
  EXPECT_EQ(control->lines(), (std::vector<std::string>{"a", "e0", "e1", "e2", "e3", "e4"}));
  EXPECT_TRUE(sink.health().up);
  EXPECT_EQ(sink.health().sent, 6u);
}

TEST(AsyncSink, DestructorDeliversWhatIsQueued) {
  auto control = std::make_shared<TransportControl>();
  {
    AsyncSink sink(options(100, 100, 1h), std::make_unique<TestTransport>(control));
    for (auto n : {"a", "b", "c"}) push_named(sink, n);
  }
  EXPECT_EQ(control->lines(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(AsyncSink, DestructorGivesUpAfterOneRetry) {
  auto control = std::make_shared<TransportControl>();
  control->set_fail(true);
  auto opts = options(100, 1, 1ms);
  opts.retry_min = opts.retry_max = 1h;  // only the stop can end the backoff
  auto sink = std::make_unique<AsyncSink>(opts, std::make_unique<TestTransport>(control));
  push_named(*sink, "a");
  push_named(*sink, "b");
  ASSERT_TRUE(eventually([&] { return control->call_count() == 1; }));
  auto destroyed = std::async(std::launch::async, [&] { sink.reset(); });
  ASSERT_EQ(destroyed.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(control->call_count(), 2);  // the first try, then one retry
  EXPECT_TRUE(control->lines().empty());
}

TEST(FileTransport, WritesJsonLinesAndReopensAfterRename) {
  TempDir dir;
  auto path = dir.path / "events.log";
  EventBus bus;
  SinkOptions opts = options(100, 10, 1ms);
  bus.add_sink(std::make_unique<AsyncSink>(opts, FileTransport::to_file(path.string())));
  ConnectionEvent e = named("client.open");
  e.conn_id = 1;
  bus.publish(e);
  e.conn_id = 2;
  bus.publish(e);
  ASSERT_TRUE(bus.flush(10s));
  std::filesystem::rename(path, dir.path / "events.log.1");  // what logrotate does
  bus.reopen_sinks();
  e.conn_id = 3;
  bus.publish(e);
  ASSERT_TRUE(bus.flush(10s));

  auto rotated = read_lines(dir.path / "events.log.1");
  ASSERT_EQ(rotated.size(), 2u);
  EXPECT_NE(rotated[0].find("\"conn_id\":1"), std::string::npos);
  EXPECT_NE(rotated[1].find("\"conn_id\":2"), std::string::npos);
  auto fresh = read_lines(path);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_NE(fresh[0].find("\"conn_id\":3"), std::string::npos);
  EXPECT_EQ(fresh[0].rfind("{\"ts\":", 0), 0u);
}

TEST(FileTransport, UnwritablePathIsAClearError) {
  try {
    FileTransport::to_file("/nonexistent-dir/events.log");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot open event file /nonexistent-dir/events.log: No such file or directory");
  }
}
