// Several hosts per database, writer tracking and the failover hold, against
// a real PostgreSQL 15 primary and a streaming standby (pg_basebackup -R) on
// 127.0.0.1: writes go to the writer only (zero 25006), a transaction issued
// while there is no writer is held and succeeds once the standby is promoted,
// an old primary rebuilt as a standby never gets writes, a host answering
// 57P03 is not used, and with no writer past failover_wait_timeout the client
// gets 57P03 with the hosts named.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "http_get.hpp"
#include "stack.hpp"

namespace pgw::test {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    primary_ = std::make_unique<PgCluster>(
        PgClusterOptions{.settings = {{"max_connections", "60"}, {"wal_keep_size", "'64MB'"}}});
    primary_->psql("create role app login password 'app-pw'");
    primary_->psql("create database app owner app");
    primary_->psql("create table t(id serial primary key, v int)", "app");
    primary_->psql("alter table t owner to app", "app");
    standby_ = PgCluster::standby_of(*primary_);
    // The standby has replayed the table.
    for (int i = 0; i < 200; ++i) {
      try {
        if (standby_->psql("select count(*) from t", "app") == "0") break;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(standby_->in_recovery());
    admin_port_ = free_port();
  }

  std::string hosts(const std::vector<int>& ports) const {
    std::string out = "[";
    for (size_t i = 0; i < ports.size(); ++i)
      out += fmt::format("{}\"127.0.0.1:{}\"", i ? ", " : "", ports[i]);
    return out + "]";
  }

  // Databases app (read-write), ro (read-only), ps (prefer-standby), anyhost
  // (any), all on [primary, standby] unless `host_list` says otherwise.
  void start_proxy(const std::string& timeouts, std::string host_list = "") {
    if (host_list.empty()) host_list = hosts({primary_->port(), standby_->port()});
    std::string cfg = fmt::format(
        "pool_mode = \"transaction\"\n[timeouts]\nhost_check_interval = \"500ms\"\n{}\n"
        "[admin]\nlisten = \"127.0.0.1:{}\"\n",
        timeouts, admin_port_);
    for (auto [name, attrs] :
         std::vector<std::pair<std::string, std::string>>{{"app", "read-write"},
                                                          {"ro", "read-only"},
                                                          {"ps", "prefer-standby"},
                                                          {"anyhost", "any"}})
      cfg += fmt::format(
          "[databases.{}]\ndbname = \"app\"\nhosts = {}\ntarget_session_attrs = \"{}\"\n", name,
          host_list, attrs);
    cfg += "[users.app]\npassword = \"app-pw\"\n";
    proxy_ = std::make_unique<ProxyProcess>(cfg);
  }

  Conn client(const std::string& db = "app") {
    return pq_connect(proxy_->conninfo("app", "app-pw", db));
  }
  std::string metrics() { return http_get(admin_port_, "/metrics").body; }

  std::unique_ptr<PgCluster> primary_, standby_;
  std::unique_ptr<ProxyProcess> proxy_;
  int admin_port_ = 0;
};

TEST_F(FailoverTest, EachTargetSessionAttrsPicksItsHost) {
  start_proxy("");
  const std::string p = std::to_string(primary_->port()), s = std::to_string(standby_->port());
  auto rw = client("app");
  ASSERT_EQ(PQstatus(rw.get()), CONNECTION_OK) << PQerrorMessage(rw.get());
  EXPECT_EQ(pq_exec(rw.get(), "select inet_server_port()").value, p);
  EXPECT_TRUE(pq_exec(rw.get(), "insert into t(v) values (1)").ok);
  auto ro = client("ro");
  EXPECT_EQ(pq_exec(ro.get(), "select inet_server_port()").value, s);
  EXPECT_EQ(pq_exec(ro.get(), "insert into t(v) values (1)").sqlstate, "25006");
  auto ps = client("ps");
  EXPECT_EQ(pq_exec(ps.get(), "select inet_server_port()").value, s);
  auto any = client("anyhost");
  EXPECT_EQ(pq_exec(any.get(), "select inet_server_port()").value, p);  // the first host up
  // The standby first in the list: a read-write pool still goes to the primary.
  proxy_.reset();
  start_proxy("", hosts({standby_->port(), primary_->port()}));
  auto rw2 = client("app");
  EXPECT_EQ(pq_exec(rw2.get(), "select inet_server_port()").value, p);
  for (int i = 0; i < 20; ++i)
    EXPECT_TRUE(pq_exec(rw2.get(), "insert into t(v) values (2)").ok) << i;
}

// A loop of writes through pgwarden while the primary stops and the standby
// is promoted: no write ever reaches the standby while it is in recovery
// (zero 25006), a transaction issued in the gap is held and succeeds after
// the promotion, every acknowledged write is on the new primary, and the
// failover event and metrics tell the timeline.
class FailoverRide : public FailoverTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(FailoverRide, HeldDuringTheGapZero25006) {
  start_proxy("failover_wait_timeout = \"20s\"");
  const std::string new_port = std::to_string(standby_->port());
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::map<std::string, int> errors;  // by SQLSTATE (writer thread only until joined)
  std::string last_error;
  std::thread writer([&] {
    auto c = client("app");
    int i = 0;
    while (!stop.load()) {
      auto r = pq_exec(c.get(), fmt::format("insert into t(v) values ({})", ++i));
      if (r.ok) {
        ++ok;
      } else {
        ++errors[r.sqlstate.empty() ? "none" : r.sqlstate];
        last_error = r.message;
        if (PQstatus(c.get()) != CONNECTION_OK) c = client("app");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_GT(ok.load(), 5);
  // The gap: no writer. A client that starts a transaction now is held.
  auto gap_client = client("app");
  ASSERT_EQ(PQstatus(gap_client.get()), CONNECTION_OK);
  primary_->stop(GetParam());
  const auto stopped = Clock::now();
  PgResult gap_result;
  double gap_seconds = 0;
  std::thread gap([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto t0 = Clock::now();
    gap_result =
        pq_exec(gap_client.get(), "insert into t(v) values (-1) returning inet_server_port()");
    gap_seconds = seconds_since(t0);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  standby_->promote();
  const double promoted_after = seconds_since(stopped);
  gap.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  writer.join();
  // Held, not refused, and served by the new primary soon after promotion.
  EXPECT_TRUE(gap_result.ok) << gap_result.sqlstate << " " << gap_result.message;
  EXPECT_EQ(gap_result.value, new_port);
  EXPECT_LT(gap_seconds, promoted_after + 2.0);
  EXPECT_EQ(errors["25006"], 0) << last_error;
  // A statement in flight at the very moment the primary went away may fail
  // (rescuing it is the session's job); nothing else may.
  int total_errors = 0;
  for (auto& [code, n] : errors) total_errors += n;
  EXPECT_LE(total_errors, 1) << last_error;
  // Every acknowledged write is on the new primary (a fast shutdown sends
  // all WAL to the standby; an immediate one may lose the last asynchronously
  // replicated commits, pgwarden or not).
  const int rows = std::stoi(standby_->psql("select count(*) from t where v > 0", "app"));
  if (GetParam() == "fast") {
    EXPECT_GE(rows, ok.load());
  }
  // One failover event with its timeline, and the metrics.
  auto ev = proxy_->wait_event({{"event", "failover"}, {"database", "app"}}, 10);
  ASSERT_TRUE(ev.is_object()) << proxy_->stderr_text();
  EXPECT_EQ(ev["old_host"], fmt::format("127.0.0.1:{}", primary_->port()));
  EXPECT_EQ(ev["host"], fmt::format("127.0.0.1:{}", standby_->port()));
  EXPECT_EQ(ev["cause"], "writer_changed");
  EXPECT_GE(ev["detected_ms"].get<int64_t>(), 0);
  EXPECT_GE(ev["writer_found_ms"].get<int64_t>(), ev["detected_ms"].get<int64_t>());
  EXPECT_GE(ev["first_served_ms"].get<int64_t>(), ev["writer_found_ms"].get<int64_t>());
  // The writer was found about when the promotion completed.
  EXPECT_GE(ev["writer_found_ms"].get<int64_t>(), 1000);
  int failovers = 0;
  for (auto& e : proxy_->events())
    if (e["event"] == "failover") ++failovers;
  EXPECT_EQ(failovers, 1);
  const std::string m = metrics();
  EXPECT_EQ(metric_value(m, "pgwarden_failovers_total{database=\"app\"}"), 1.0) << m;
  EXPECT_EQ(metric_value(m, "pgwarden_failover_duration_seconds_count{database=\"app\"}"), 1.0);
  EXPECT_EQ(
      metric_value(m, fmt::format("pgwarden_host_up{{database=\"app\",host=\"127.0.0.1:{}\"}}",
                                  primary_->port())),
      0.0);
  EXPECT_EQ(
      metric_value(m, fmt::format("pgwarden_host_up{{database=\"app\",host=\"127.0.0.1:{}\"}}",
                                  standby_->port())),
      1.0);
  // The host events: the old writer went down and was quarantined.
  auto q = proxy_->wait_event(
      {{"event", "host.quarantined"}, {"host", fmt::format("127.0.0.1:{}", primary_->port())}}, 5);
  EXPECT_TRUE(q.is_object());

  // The old primary rejoins as a standby: a read-only host that never gets
  // writes; the read-only pool now goes there.
  primary_->rebuild_as_standby_of(*standby_);
  ASSERT_TRUE(primary_->in_recovery());
  const auto until = Clock::now() + std::chrono::seconds(3);
  int writes = 0;
  while (Clock::now() < until) {
    auto c = client("app");  // a new client each time: new pool checkouts
    auto r = pq_exec(c.get(), "insert into t(v) values (7) returning inet_server_port()");
    EXPECT_TRUE(r.ok) << r.sqlstate << " " << r.message;
    EXPECT_EQ(r.value, new_port);
    ++writes;
  }
  EXPECT_GT(writes, 5);
  auto deadline = Clock::now() + std::chrono::seconds(5);
  std::string ro_port;
  while (Clock::now() < deadline) {
    auto ro = client("ro");
    ro_port = pq_exec(ro.get(), "select inet_server_port()").value;
    if (ro_port == std::to_string(primary_->port())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(ro_port, std::to_string(primary_->port()));
}

INSTANTIATE_TEST_SUITE_P(StopModes, FailoverRide, ::testing::Values("fast", "immediate"));

TEST_F(FailoverTest, NoWriterPastFailoverWaitTimeoutIs57P03NamingTheHosts) {
  start_proxy("failover_wait_timeout = \"2s\"");
  auto c = client("app");
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK);
  ASSERT_TRUE(pq_exec(c.get(), "select 1").ok);
  primary_->stop("fast");
  // An open client's next transaction: ErrorResponse 57P03 after the wait.
  auto t0 = Clock::now();
  auto r = pq_exec(c.get(), "insert into t(v) values (1)");
  double waited = seconds_since(t0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sqlstate, "57P03") << r.message;
  EXPECT_NE(r.message.find("within failover_wait_timeout (2s)"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(fmt::format("127.0.0.1:{} (down", primary_->port())), std::string::npos)
      << r.message;
  EXPECT_NE(r.message.find(fmt::format("127.0.0.1:{} (standby", standby_->port())),
            std::string::npos)
      << r.message;
  EXPECT_GE(waited, 1.9);
  EXPECT_LT(waited, 5.0);
  // A new client: whichever path applies, 57P03 with the same words.
  auto fresh = client("app");
  std::string sqlstate, message;
  if (PQstatus(fresh.get()) != CONNECTION_OK) {
    message = PQerrorMessage(fresh.get());
  } else {
    auto r2 = pq_exec(fresh.get(), "select 1");
    sqlstate = r2.sqlstate;
    message = r2.message;
    EXPECT_EQ(sqlstate, "57P03");
  }
  EXPECT_NE(message.find("failover_wait_timeout"), std::string::npos) << message;
  // No write ever went to the standby.
  for (auto& e : proxy_->events()) EXPECT_NE(e.value("sqlstate", ""), "25006") << e.dump();
  // The open client kept its connection (an ErrorResponse, not a close).
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK);
}

// A host that answers every login with FATAL 57P03 ("the database system is
// starting up"), like PostgreSQL during recovery before consistency.
class StartingUpServer {
 public:
  StartingUpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 64);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++accepted_;
        char buf[1024];
        ssize_t n0 = ::recv(c, buf, sizeof buf, 0);
        if (n0 == 8 && static_cast<unsigned char>(buf[4]) == 0x04 &&
            static_cast<unsigned char>(buf[5]) == 0xd2) {
          // SSLRequest (80877103): no TLS, as a server without ssl answers.
          (void)::send(c, "N", 1, MSG_NOSIGNAL);
          (void)::recv(c, buf, sizeof buf, 0);  // the StartupMessage
        }
        std::string body = std::string("SFATAL") + '\0' + "VFATAL" + '\0' + "C57P03" + '\0' +
                           "Mthe database system is starting up" + '\0' + '\0';
        std::string msg = "E";
        uint32_t n = htonl(static_cast<uint32_t>(body.size() + 4));
        msg.append(reinterpret_cast<const char*>(&n), 4);
        msg += body;
        (void)::send(c, msg.data(), msg.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~StartingUpServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST_F(FailoverTest, AHostAnswering57P03IsNotReady) {
  StartingUpServer starting;
  // The starting host first: read-write and any pools both go to the primary.
  start_proxy("", hosts({starting.port(), primary_->port()}));
  for (const char* db : {"app", "anyhost"}) {
    auto c = client(db);
    ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << db << PQerrorMessage(c.get());
    EXPECT_EQ(pq_exec(c.get(), "select inet_server_port()").value, std::to_string(primary_->port()))
        << db;
  }
  auto q = proxy_->wait_event(
      {{"event", "host.quarantined"}, {"host", fmt::format("127.0.0.1:{}", starting.port())}}, 5);
  ASSERT_TRUE(q.is_object());
  EXPECT_NE(q["message"].get<std::string>().find("starting up"), std::string::npos) << q.dump();
  EXPECT_GT(starting.accepted(), 0);
}

// Aurora: the monitor learns each host's instance identifier and the writer
// from aurora_replica_status(), functions defined here in pg_catalog as SQL
// functions over a table the test controls.
TEST_F(FailoverTest, AuroraTopologyIsLearnt) {
  const int p = primary_->port();
  primary_->psql("create table public.aurora_topology(server_id text, session_id text)", "app");
  primary_->psql(
      "insert into public.aurora_topology values ('inst-a', 'MASTER_SESSION_ID'), ('inst-b', "
      "'a5d8b7e2')",
      "app");
  primary_->psql("grant select on public.aurora_topology to public", "app");
  primary_->psql(
      "create function pg_catalog.aurora_replica_status() returns table(server_id text, "
      "session_id text) language sql as 'select server_id, session_id from "
      "public.aurora_topology'",
      "app");
  primary_->psql(
      fmt::format(
          "create function pg_catalog.aurora_db_instance_identifier() returns text language sql as "
          "'select case when pg_catalog.inet_server_port() = {} then ''inst-a'' else ''inst-b'' "
          "end'",
          p),
      "app");
  // The standby replays them.
  for (int i = 0; i < 100; ++i) {
    try {
      if (standby_->psql("select pg_catalog.aurora_db_instance_identifier()", "app") == "inst-b")
        break;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  start_proxy("");
  auto c = client("app");
  ASSERT_TRUE(pq_exec(c.get(), "select 1").ok);
  nlohmann::json hosts_json;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    auto r = http_get(admin_port_, "/api/hosts");
    hosts_json = nlohmann::json::parse(r.body, nullptr, false);
    if (hosts_json.is_array() && !hosts_json.empty()) {
      int learnt = 0;
      for (auto& d : hosts_json)
        if (d["database"] == "app")
          for (auto& h : d["hosts"]) learnt += h.value("aurora_writer", "") == "inst-a";
      if (learnt == 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(hosts_json.is_array()) << hosts_json.dump();
  bool seen = false;
  for (auto& d : hosts_json) {
    if (d["database"] != "app") continue;
    seen = true;
    ASSERT_EQ(d["hosts"].size(), 2u);
    EXPECT_EQ(d["hosts"][0]["role"], "primary");
    EXPECT_EQ(d["hosts"][0]["aurora_id"], "inst-a") << hosts_json.dump();
    EXPECT_EQ(d["hosts"][0]["aurora_writer"], "inst-a");
    EXPECT_EQ(d["hosts"][1]["role"], "standby");
    EXPECT_EQ(d["hosts"][1]["aurora_id"], "inst-b");
    EXPECT_EQ(d["hosts"][1]["aurora_writer"], "inst-a");
  }
  EXPECT_TRUE(seen) << hosts_json.dump();
}

}  // namespace
}  // namespace pgw::test
