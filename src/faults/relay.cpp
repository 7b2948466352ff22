#include "pgwarden/faults/relay.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <future>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "pgwarden/core/config.hpp"
#include "pgwarden/core/faults_config.hpp"
#include "pgwarden/faults/pg_tracker.hpp"
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/observe/metrics.hpp"
#include "pgwarden/wire/codec.hpp"

namespace pgw::faults {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadSize = 64 * 1024;
// A direction stops reading while this much waits behind a slow toxic.
constexpr size_t kMaxQueued = 4 * 1024 * 1024;
constexpr auto kForever = std::chrono::hours(24 * 365);

struct ToxicEntry {
  uint64_t id = 0;  // stays the same across updates
  ToxicSpec spec;
};

struct Chunk {
  std::string data;
  Clock::time_point at;  // arrival: latency counts from here
};

}  // namespace

class Conn;
struct Core;

struct ProxyState {
  ProxySpec spec;
  std::vector<ToxicEntry> toxics;
  std::shared_ptr<tcp::acceptor> acceptor;
  std::set<std::shared_ptr<Conn>> conns;
  observe::Counter* accepted = nullptr;
  observe::Gauge* active = nullptr;
  observe::Counter* bytes[2] = {nullptr, nullptr};  // by Stream

  std::vector<ToxicEntry> chain(Stream s) const {
    std::vector<ToxicEntry> out;
    for (const auto& t : toxics)
      if (t.spec.stream == s) out.push_back(t);
    return out;
  }
  const ToxicEntry* find(uint64_t id) const {
    for (const auto& t : toxics)
      if (t.id == id) return &t;
    return nullptr;
  }
};

struct Core {
  observe::EventBus& bus;
  observe::Registry& metrics;
  std::mt19937_64 rng;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;
  std::map<std::string, std::shared_ptr<ProxyState>> proxies;
  uint64_t next_toxic_id = 1;
  uint64_t next_conn_id = 1;
  observe::Family<observe::Counter>& injected;
  observe::Family<observe::Counter>& closes;
  observe::Family<observe::Counter>& accepted;
  observe::Family<observe::Gauge>& active;
  observe::Family<observe::Counter>& bytes;

  Core(observe::EventBus& b, observe::Registry& m, uint64_t seed)
      : bus(b),
        metrics(m),
        rng(seed ? seed : std::random_device{}()),
        injected(m.counter("pgwarden_faults_injected_total",
                           "Toxics that took effect on a connection direction (once each)",
                           {"proxy", "toxic", "type", "stream"})),
        closes(m.counter("pgwarden_faults_closes_total",
                         "Connections the relay closed on purpose, by what closed them",
                         {"proxy", "toxic", "type"})),
        accepted(m.counter("pgwarden_faults_connections_total", "Connections accepted by the relay",
                           {"proxy"})),
        active(m.gauge("pgwarden_faults_active_connections", "Connections open through the relay",
                       {"proxy"})),
        bytes(m.counter("pgwarden_faults_bytes_total", "Bytes the relay forwarded",
                        {"proxy", "stream"})) {}

  template <class F>
  auto call(F f) -> decltype(f()) {
    if (!thread.joinable()) return f();  // not started (or stopped): nothing runs concurrently
    if (std::this_thread::get_id() == thread.get_id()) return f();
    // Shared with the posted handler: the relay thread may still be inside
    // the task when the caller, woken by its result, returns.
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto fut = task->get_future();
    asio::post(ioc, [task] { (*task)(); });
    return fut.get();
  }

  std::shared_ptr<ProxyState>& find(const std::string& name) {
    auto it = proxies.find(name);
    if (it == proxies.end()) throw FaultError(FaultError::Kind::proxy_not_found, "proxy not found");
    return it->second;
  }
  static ProxyView view(const ProxyState& p) {
    ProxyView v{p.spec, {}};
    for (Stream s : {Stream::upstream, Stream::downstream})
      for (const auto& t : p.toxics)
        if (t.spec.stream == s) v.toxics.push_back(t.spec);
    return v;
  }

  void publish(observe::ConnectionEvent e) {
    e.source = "faults";
    bus.publish(e);
  }
  void control_event(const std::string& event, const ProxyState& p, const ToxicSpec* t,
                     const std::string& message = {}) {
    observe::ConnectionEvent e;
    e.event = event;
    e.proxy = p.spec.name;
    e.backend = p.spec.upstream;
    if (t) {
      e.toxic = t->name;
      e.toxic_type = t->type;
      e.stream = to_string(t->stream);
    }
    e.message = message;
    publish(std::move(e));
  }

  void listen(ProxyState& p);
  void stop_listening(ProxyState& p, const std::string& why);
  asio::awaitable<void> accept_loop(std::shared_ptr<ProxyState> p,
                                    std::shared_ptr<tcp::acceptor> acceptor);
  void on_toxic_added(ProxyState& p, const ToxicEntry& t);
  // Removes a toxic; a timeout toxic's connections close (the data it
  // dropped is lost, so they cannot go on).
  void remove_toxic(ProxyState& p, uint64_t id);
};

// One relayed connection: the client's socket, the upstream socket, and a
// direction each way. Lives on the relay thread only.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Core& relay, std::shared_ptr<ProxyState> proxy, tcp::socket client)
      : relay_(relay),
        proxy_(std::move(proxy)),
        client_(std::move(client)),
        server_(relay.ioc),
        id_(relay.next_conn_id++),
        dirs_{Direction(relay.ioc, Stream::upstream), Direction(relay.ioc, Stream::downstream)} {
    boost::system::error_code ec;
    auto ep = client_.remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  asio::awaitable<void> run(std::shared_ptr<Conn> self);
  // Arms what acts without data (a timeout toxic's timer) for one toxic.
  void arm(const ToxicEntry& t);
  // Closes both sockets (with RST when `reset`), after publishing fault.close
  // when a fault is the reason.
  void fault_close(const std::string& toxic, const std::string& type, Stream stream,
                   const std::string& message, bool reset, const std::string& sqlstate = {});
  void close(bool reset = false);
  // An event about this connection (source, proxy and peer filled in).
  observe::ConnectionEvent event(const char* name, const std::string& toxic,
                                 const std::string& type, const std::string& stream) const;
  bool closed() const { return closed_; }
  // Whether the toxic acts on this connection (its toxicity was drawn here).
  bool active(const ToxicEntry& t) {
    auto it = toxics_.find(t.id);
    return it != toxics_.end() && it->second.active;
  }

 private:
  struct LinkToxic {
    bool active = false;
    bool announced = false;
    bool armed = false;
    std::optional<DataLimit> limit;
  };
  struct Direction {
    Direction(asio::io_context& ioc, Stream s) : stream(s), wake(ioc), space(ioc) {}
    Stream stream;
    std::deque<Chunk> queue;
    size_t queued = 0;
    bool ended = false;    // the reading side hit EOF or an error
    bool passing = false;  // a chunk is on its way out (toxics, then the write)
    boost::system::error_code error;
    asio::steady_timer wake;   // the writer waits here for data
    asio::steady_timer space;  // the reader waits here for room
  };

  tcp::socket& from(const Direction& d) { return d.stream == Stream::upstream ? client_ : server_; }
  tcp::socket& to(const Direction& d) { return d.stream == Stream::upstream ? server_ : client_; }
  LinkToxic& state(const ToxicEntry& t);
  void announce(const ToxicEntry& t);
  asio::awaitable<bool> sleep(Clock::duration d);
  asio::awaitable<void> read_loop(std::shared_ptr<Conn> self, Direction& d);
  asio::awaitable<void> write_loop(std::shared_ptr<Conn> self, Direction& d);
  asio::awaitable<void> pass(Direction& d, const std::vector<ToxicEntry>& chain, size_t i,
                             std::string data, Clock::time_point at);
  // Writes what passed every toxic and tells the counters and the
  // PostgreSQL tracker.
  asio::awaitable<void> forward(Direction& d, std::string_view data);
  asio::awaitable<void> timeout_timer(std::shared_ptr<Conn> self, uint64_t toxic_id,
                                      Clock::duration after);
  void end_direction(Direction& d);
  // PostgreSQL-aware toxics.
  asio::awaitable<void> refuse_login(std::shared_ptr<Conn> self, ToxicEntry t);
  void after_forward();
  asio::awaitable<void> watch(std::shared_ptr<Conn> self, uint64_t toxic_id);
  asio::awaitable<void> idle_watch(std::shared_ptr<Conn> self, uint64_t toxic_id);

  Core& relay_;
  std::shared_ptr<ProxyState> proxy_;
  tcp::socket client_, server_;
  uint64_t id_;
  std::string peer_;
  Direction dirs_[2];
  int finished_ = 0;  // directions that ended cleanly
  bool closed_ = false;
  std::map<uint64_t, LinkToxic> toxics_;
  std::list<asio::steady_timer*> sleeping_;
  PgTracker pg_;
  Clock::time_point last_activity_ = Clock::now();
};

Conn::LinkToxic& Conn::state(const ToxicEntry& t) {
  auto [it, fresh] = toxics_.try_emplace(t.id);
  if (fresh) {
    it->second.active = toxicity_draw(t.spec.toxicity, relay_.rng);
    if (t.spec.type == "limit_data")
      it->second.limit.emplace(static_cast<uint64_t>(t.spec.attr("bytes")));
  }
  return it->second;
}

void Conn::announce(const ToxicEntry& t) {
  LinkToxic& s = state(t);
  if (s.announced) return;
  s.announced = true;
  const std::string stream = to_string(t.spec.stream);
  relay_.injected.with({proxy_->spec.name, t.spec.name, t.spec.type, stream}).inc();
  relay_.publish(event("fault.injected", t.spec.name, t.spec.type, stream));
}

observe::ConnectionEvent Conn::event(const char* name, const std::string& toxic,
                                     const std::string& type, const std::string& stream) const {
  observe::ConnectionEvent e;
  e.event = name;
  e.conn_id = id_;
  e.peer = peer_;
  e.backend = proxy_->spec.upstream;
  e.proxy = proxy_->spec.name;
  e.toxic = toxic;
  e.toxic_type = type;
  e.stream = stream;
  return e;
}

void Conn::fault_close(const std::string& toxic, const std::string& type, Stream stream,
                       const std::string& message, bool reset, const std::string& sqlstate) {
  if (closed_) return;
  relay_.closes.with({proxy_->spec.name, toxic, type}).inc();
  auto e = event("fault.close", toxic, type, toxic.empty() ? "" : to_string(stream));
  e.initiator = "proxy";
  e.cause = "fault_injected";
  e.sqlstate = sqlstate;
  e.message = message;
  relay_.publish(std::move(e));
  close(reset);
}

void Conn::close(bool reset) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  for (tcp::socket* s : {&client_, &server_}) {
    if (!s->is_open()) continue;
    // SO_LINGER 0: close sends RST, the peer reads ECONNRESET.
    if (reset) s->set_option(asio::socket_base::linger(true, 0), ec);
    s->close(ec);
  }
  for (auto& d : dirs_) {
    d.wake.cancel();
    d.space.cancel();
  }
  for (auto* t : sleeping_) t->cancel();
  proxy_->active->add(-1);
  proxy_->conns.erase(shared_from_this());
}

asio::awaitable<bool> Conn::sleep(Clock::duration d) {
  if (closed_) co_return false;
  if (d <= Clock::duration::zero()) co_return true;
  asio::steady_timer timer(relay_.ioc, d);
  auto it = sleeping_.insert(sleeping_.end(), &timer);
  co_await timer.async_wait(use_tuple);
  sleeping_.erase(it);
  co_return !closed_;
}

void Conn::arm(const ToxicEntry& t) {
  if (t.spec.type == "idle_cut" || t.spec.type == "pg_terminate_idle") {
    LinkToxic& s = state(t);
    if (!s.active || s.armed || t.spec.attr("idle") <= 0) return;
    s.armed = true;
    asio::co_spawn(relay_.ioc, idle_watch(shared_from_this(), t.id), asio::detached);
    return;
  }
  if (t.spec.type != "timeout") return;
  LinkToxic& s = state(t);
  if (!s.active || s.armed) return;
  s.armed = true;
  announce(t);
  if (t.spec.attr("timeout") > 0)
    asio::co_spawn(
        relay_.ioc,
        timeout_timer(shared_from_this(), t.id, std::chrono::milliseconds(t.spec.attr("timeout"))),
        asio::detached);
}

asio::awaitable<void> Conn::timeout_timer(std::shared_ptr<Conn> self, uint64_t toxic_id,
                                          Clock::duration after) {
  (void)self;  // keeps the connection alive while this runs
  if (!co_await sleep(after)) co_return;
  const ToxicEntry* t = proxy_->find(toxic_id);
  if (!t) co_return;  // removed meanwhile (which closed us already)
  fault_close(t->spec.name, t->spec.type, t->spec.stream,
              "timeout toxic: no data passed, connection closed after " +
                  std::to_string(t->spec.attr("timeout")) + " ms",
              false);
}

asio::awaitable<void> Conn::run(std::shared_ptr<Conn> self) {
  for (const auto& t : proxy_->toxics) {
    if (login_fatal(t.spec.type, {}) && state(t).active) {
      co_await refuse_login(self, t);
      co_return;
    }
  }
  auto upstream = parse_host_port(proxy_->spec.upstream);
  tcp::resolver resolver(relay_.ioc);
  // Named, not temporaries in the co_await expression: GCC 12 frees a
  // conditional's temporary string twice in a coroutine.
  std::string host, service;
  if (upstream) {
    host = upstream->host;
    service = std::to_string(upstream->port);
  }
  auto [rec, endpoints] = co_await resolver.async_resolve(host, service, use_tuple);
  if (closed_) co_return;
  if (rec || !upstream) {
    spdlog::warn("faults: {}: cannot resolve upstream {}: {}", proxy_->spec.name,
                 proxy_->spec.upstream, rec.message());
    close();
    co_return;
  }
  auto [cec, ep] = co_await asio::async_connect(server_, endpoints, use_tuple);
  if (closed_) co_return;
  if (cec) {
    spdlog::info("faults: {}: upstream {} refused: {}", proxy_->spec.name, proxy_->spec.upstream,
                 cec.message());
    close();
    co_return;
  }
  boost::system::error_code ec;
  client_.set_option(tcp::no_delay(true), ec);
  server_.set_option(tcp::no_delay(true), ec);
  for (const auto& t : proxy_->toxics) arm(t);
  if (closed_) co_return;
  for (auto& d : dirs_) {
    asio::co_spawn(relay_.ioc, read_loop(self, d), asio::detached);
    asio::co_spawn(relay_.ioc, write_loop(self, d), asio::detached);
  }
}

asio::awaitable<void> Conn::read_loop(std::shared_ptr<Conn> self, Direction& d) {
  (void)self;  // keeps the connection alive while this runs
  std::vector<char> buf(kReadSize);
  for (;;) {
    if (closed_) co_return;
    if (d.queued >= kMaxQueued) {
      d.space.expires_at(Clock::time_point::max());
      co_await d.space.async_wait(use_tuple);
      continue;
    }
    auto [ec, n] = co_await from(d).async_read_some(asio::buffer(buf), use_tuple);
    if (closed_) co_return;
    if (ec) {
      d.ended = true;
      d.error = ec;
      d.wake.cancel();
      co_return;
    }
    const std::string_view data(buf.data(), n);
    if (proxy_->toxics.empty() && d.queue.empty() && !d.passing) {
      // No toxic and nothing ahead of it: straight on, without the hop
      // through the queue and the writer (what the relay costs when no fault
      // is armed). Nothing is read meanwhile, so the order holds.
      d.passing = true;
      co_await forward(d, data);
      d.passing = false;
      continue;
    }
    d.queued += n;
    d.queue.push_back({std::string(data), Clock::now()});
    d.wake.cancel();
  }
}

asio::awaitable<void> Conn::write_loop(std::shared_ptr<Conn> self, Direction& d) {
  (void)self;  // keeps the connection alive while this runs
  for (;;) {
    if (closed_) co_return;
    if (d.queue.empty()) {
      if (d.ended) break;
      d.wake.expires_at(Clock::time_point::max());
      co_await d.wake.async_wait(use_tuple);
      continue;
    }
    Chunk c = std::move(d.queue.front());
    d.queue.pop_front();
    d.queued -= c.data.size();
    d.space.cancel();
    // A named chain (empty without toxics), not a temporary in the co_await.
    std::vector<ToxicEntry> chain;
    if (!proxy_->toxics.empty()) chain = proxy_->chain(d.stream);
    d.passing = true;
    co_await pass(d, chain, 0, std::move(c.data), c.at);
    d.passing = false;
  }
  // The reading side ended: a reset or error closes the whole connection;
  // an EOF is passed on (after slow_close's delay) as a half-close.
  if (d.error != asio::error::eof) {
    close();
    co_return;
  }
  for (const auto& t : proxy_->chain(d.stream)) {
    if (t.spec.type != "slow_close" || !state(t).active) continue;
    announce(t);
    if (!co_await sleep(std::chrono::milliseconds(t.spec.attr("delay")))) co_return;
  }
  end_direction(d);
}

void Conn::end_direction(Direction& d) {
  if (closed_) return;
  boost::system::error_code ec;
  to(d).shutdown(tcp::socket::shutdown_send, ec);
  if (++finished_ == 2 || ec) close();
}

asio::awaitable<void> Conn::pass(Direction& d, const std::vector<ToxicEntry>& chain, size_t i,
                                 std::string data, Clock::time_point at) {
  for (; i < chain.size(); ++i) {
    const ToxicEntry& t = chain[i];
    if (!state(t).active) continue;
    const std::string& type = t.spec.type;
    // slow_close acts at EOF (write_loop); idle_cut and the other PostgreSQL
    // toxics act on their own moments (arm, after_forward, run), not on data.
    if (type == "slow_close" || type == "idle_cut" ||
        (type.starts_with("pg_") && type != "pg_stall_replication"))
      continue;
    if (type == "pg_stall_replication") {
      // Only the server's side of a running replication stream stalls.
      if (d.stream != Stream::downstream || !pg_.replication_streaming()) continue;
      announce(t);
      co_await sleep(kForever);
      co_return;
    }
    announce(t);
    if (type == "latency") {
      auto delay = latency_delay(t.spec.attr("latency"), t.spec.attr("jitter"), relay_.rng);
      if (!co_await sleep(at + delay - Clock::now())) co_return;
      continue;
    }
    if (type == "timeout") co_return;  // the data is dropped; the timer closes
    if (type == "reset_peer") {
      if (!co_await sleep(std::chrono::milliseconds(t.spec.attr("timeout")))) co_return;
      fault_close(t.spec.name, type, t.spec.stream, "reset_peer toxic: connection reset (RST)",
                  true);
      co_return;
    }
    if (type == "limit_data") {
      LinkToxic& s = state(t);
      size_t n = s.limit->admit(data.size());
      data.resize(n);
      if (n > 0) co_await pass(d, chain, i + 1, std::move(data), at);
      if (s.limit->reached())
        fault_close(t.spec.name, type, t.spec.stream,
                    "limit_data toxic: " + std::to_string(t.spec.attr("bytes")) +
                        " bytes forwarded, connection closed",
                    false);
      co_return;
    }
    if (type == "bandwidth") {
      auto schedule = bandwidth_schedule(data.size(), t.spec.attr("rate"));
      if (schedule.empty()) {  // rate 0: the stream stalls
        co_await sleep(kForever);
        co_return;
      }
      size_t off = 0;
      for (const auto& piece : schedule) {
        if (!co_await sleep(piece.wait)) co_return;
        co_await pass(d, chain, i + 1, data.substr(off, piece.bytes), at);
        off += piece.bytes;
      }
      co_return;
    }
    if (type == "slicer") {
      auto sizes = slice_sizes(data.size(), static_cast<size_t>(t.spec.attr("average_size")),
                               static_cast<size_t>(t.spec.attr("size_variation")), relay_.rng);
      size_t off = 0;
      for (size_t k = 0; k < sizes.size(); ++k) {
        if (k > 0 && !co_await sleep(std::chrono::microseconds(t.spec.attr("delay")))) co_return;
        co_await pass(d, chain, i + 1, data.substr(off, sizes[k]), at);
        off += sizes[k];
      }
      co_return;
    }
  }
  co_await forward(d, data);
}

asio::awaitable<void> Conn::forward(Direction& d, std::string_view data) {
  if (closed_ || data.empty()) co_return;
  auto [ec, n] = co_await asio::async_write(to(d), asio::buffer(data), use_tuple);
  if (closed_) co_return;
  if (ec) {
    close();
    co_return;
  }
  proxy_->bytes[static_cast<int>(d.stream)]->inc(n);
  if (d.stream == Stream::upstream)
    pg_.from_client(data);
  else
    pg_.from_server(data);
  after_forward();
}

// Starts the watch of a mid-query or in-transaction toxic when its moment
// comes (a query waiting for its answer, a transaction open).
void Conn::after_forward() {
  last_activity_ = Clock::now();
  for (const auto& t : proxy_->toxics) {
    const std::string& type = t.spec.type;
    const bool query = type == "pg_kill_mid_query" && pg_.queries_in_flight() > 0;
    const bool tx = type == "pg_kill_in_transaction" && pg_.in_transaction();
    if (!query && !tx) continue;
    LinkToxic& s = state(t);
    if (!s.active || s.armed) continue;
    s.armed = true;
    asio::co_spawn(relay_.ioc, watch(shared_from_this(), t.id), asio::detached);
  }
}

asio::awaitable<void> Conn::watch(std::shared_ptr<Conn> self, uint64_t toxic_id) {
  (void)self;  // keeps the connection alive while this runs
  const ToxicEntry* t = proxy_->find(toxic_id);
  if (!t) co_return;
  if (!co_await sleep(std::chrono::milliseconds(t->spec.attr("delay")))) co_return;
  t = proxy_->find(toxic_id);
  if (!t) co_return;
  state(*t).armed = false;
  const bool query = t->spec.type == "pg_kill_mid_query";
  if (query ? pg_.queries_in_flight() == 0 : !pg_.in_transaction()) co_return;  // it ended in time
  announce(*t);
  fault_close(t->spec.name, t->spec.type, t->spec.stream,
              query ? "pg_kill_mid_query toxic: connection closed while a query ran"
                    : "pg_kill_in_transaction toxic: connection closed inside a transaction",
              false);
}

asio::awaitable<void> Conn::idle_watch(std::shared_ptr<Conn> self, uint64_t toxic_id) {
  (void)self;  // keeps the connection alive while this runs
  for (;;) {
    const ToxicEntry* t = proxy_->find(toxic_id);
    if (!t || closed_) co_return;
    const auto idle = std::chrono::milliseconds(t->spec.attr("idle"));
    const auto due = last_activity_ + idle;
    const auto now = Clock::now();
    const bool pg = t->spec.type == "pg_terminate_idle";
    const bool quiet = !pg || (pg_.phase() == PgTracker::Phase::ready && !pg_.in_transaction() &&
                               pg_.queries_in_flight() == 0);
    if (now >= due && quiet) {
      announce(*t);
      if (!pg) {
        fault_close(t->spec.name, t->spec.type, t->spec.stream,
                    "idle_cut toxic: connection idle for " + std::to_string(idle.count()) +
                        " ms, reset (RST) as a NAT or load balancer does",
                    true);
        co_return;
      }
      std::string fatal;
      wire::error_response(
          fatal, {"FATAL", "57P01", "terminating connection due to administrator command", {}, {}});
      const std::string name = t->spec.name, type = t->spec.type;
      const Stream stream = t->spec.stream;
      co_await asio::async_write(client_, asio::buffer(fatal), use_tuple);
      fault_close(name, type, stream,
                  "pg_terminate_idle toxic: FATAL 57P01 sent to a session idle for " +
                      std::to_string(idle.count()) + " ms",
                  false, "57P01");
      co_return;
    }
    if (!co_await sleep(now >= due ? idle : due - now)) co_return;
  }
}

// Answers the client's login with the toxic's FATAL, as the server would,
// without connecting upstream: an SSLRequest gets 'N' first.
asio::awaitable<void> Conn::refuse_login(std::shared_ptr<Conn> self, ToxicEntry t) {
  (void)self;  // keeps the connection alive while this runs
  announce(t);
  std::string buf;
  char tmp[4096];
  for (;;) {
    auto [ec, n] = co_await client_.async_read_some(asio::buffer(tmp), use_tuple);
    if (closed_) co_return;
    if (ec) {
      close();
      co_return;
    }
    buf.append(tmp, n);
    wire::StartupPacket p;
    auto r = wire::parse_startup(buf, p);
    if (r.status == wire::StartupStatus::need_more) continue;
    if (r.status != wire::StartupStatus::ok || p.kind == wire::StartupKind::cancel) {
      close();
      co_return;
    }
    buf.erase(0, r.consumed);
    if (p.kind != wire::StartupKind::startup) {  // SSLRequest / GSSENCRequest: no
      co_await asio::async_write(client_, asio::buffer("N", 1), use_tuple);
      if (closed_) co_return;
      continue;
    }
    const std::string* user = p.param("user");
    std::string user_name;  // no conditional temporaries in a coroutine (GCC 12)
    if (user) user_name = *user;
    auto fatal = login_fatal(t.spec.type, user_name);
    std::string out;
    wire::error_response(out, {"FATAL", fatal->sqlstate, fatal->message, {}, {}});
    co_await asio::async_write(client_, asio::buffer(out), use_tuple);
    fault_close(t.spec.name, t.spec.type, t.spec.stream,
                t.spec.type + " toxic: login answered with FATAL " + fatal->sqlstate + " (" +
                    fatal->message + ")",
                false, fatal->sqlstate);
    co_return;
  }
}

void Core::listen(ProxyState& p) {
  auto hp = parse_listen_address(p.spec.listen);
  if (!hp) throw FaultError(FaultError::Kind::bad_request, "listen must be HOST:PORT");
  boost::system::error_code ec;
  tcp::resolver resolver(ioc);
  auto endpoints =
      resolver.resolve(hp->host.empty() ? "127.0.0.1" : hp->host, std::to_string(hp->port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec)
    throw FaultError(FaultError::Kind::failed,
                     "listen tcp " + p.spec.listen + ": cannot resolve: " + ec.message());
  auto acceptor = std::make_shared<tcp::acceptor>(ioc);
  boost::system::error_code last = asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    if (acceptor->is_open()) acceptor->close(ec);
    acceptor->open(entry.endpoint().protocol(), last);
    if (last) continue;
    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    acceptor->bind(entry.endpoint(), last);
    if (!last) acceptor->listen(asio::socket_base::max_listen_connections, last);
    if (!last) break;
  }
  if (last)
    throw FaultError(FaultError::Kind::failed,
                     "listen tcp " + p.spec.listen + ": " + last.message());
  auto local = acceptor->local_endpoint();
  std::string host = local.address().to_string();
  if (local.address().is_v6()) host = "[" + host + "]";
  p.spec.listen = host + ":" + std::to_string(local.port());
  p.acceptor = acceptor;
  asio::co_spawn(ioc, accept_loop(proxies.at(p.spec.name), acceptor), asio::detached);
}

void Core::stop_listening(ProxyState& p, const std::string& why) {
  if (p.acceptor) {
    boost::system::error_code ec;
    p.acceptor->close(ec);
    p.acceptor.reset();
  }
  auto conns = p.conns;  // closing erases from the set
  for (auto& c : conns) c->fault_close({}, {}, Stream::downstream, why, false);
}

asio::awaitable<void> Core::accept_loop(std::shared_ptr<ProxyState> p,
                                        std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(use_tuple);
    if (!acceptor->is_open() || p->acceptor != acceptor) co_return;
    if (ec) {
      spdlog::warn("faults: {}: accept failed: {}", p->spec.name, ec.message());
      asio::steady_timer delay(ioc, 100ms);
      co_await delay.async_wait(use_tuple);
      continue;
    }
    auto conn = std::make_shared<Conn>(*this, p, std::move(socket));
    p->conns.insert(conn);
    p->accepted->inc();
    p->active->add(1);  // close() takes it back
    asio::co_spawn(ioc, conn->run(conn), asio::detached);
  }
}

void Core::on_toxic_added(ProxyState& p, const ToxicEntry& t) {
  auto conns = p.conns;
  for (auto& c : conns) c->arm(t);
}

struct Relay::Impl : Core {
  using Core::Core;
};

void Core::remove_toxic(ProxyState& p, uint64_t id) {
  auto it = std::find_if(p.toxics.begin(), p.toxics.end(),
                         [&](const ToxicEntry& e) { return e.id == id; });
  if (it == p.toxics.end()) return;
  const ToxicEntry t = *it;
  p.toxics.erase(it);
  control_event("fault.toxic_removed", p, &t.spec);
  if (t.spec.type != "timeout") return;
  auto conns = p.conns;
  for (auto& c : conns)
    if (c->active(t))
      c->fault_close(t.spec.name, t.spec.type, t.spec.stream,
                     "timeout toxic removed: the data it dropped is lost", false);
}

Relay::Relay(observe::EventBus& bus, observe::Registry& metrics, uint64_t seed)
    : impl_(std::make_unique<Impl>(bus, metrics, seed)) {}

Relay::~Relay() {
  stop();
}

void Relay::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_.get()] {
    for (;;) {
      try {
        impl->ioc.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("faults: relay: {}", e.what());
      }
    }
  });
}

void Relay::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->call([this] {
    for (auto& [name, p] : impl_->proxies) {
      if (p->acceptor) {
        boost::system::error_code ec;
        p->acceptor->close(ec);
        p->acceptor.reset();
      }
      auto conns = p->conns;
      for (auto& c : conns) c->close();
    }
    return 0;
  });
  impl_->work.reset();
  impl_->ioc.stop();
  impl_->thread.join();
}

std::vector<ProxyView> Relay::proxies() const {
  return impl_->call([this] {
    std::vector<ProxyView> out;
    for (auto& [name, p] : impl_->proxies) out.push_back(Core::view(*p));
    return out;
  });
}

ProxyView Relay::proxy(const std::string& name) const {
  return impl_->call([&] { return Core::view(*impl_->find(name)); });
}

ProxyView Relay::create(const ProxySpec& spec, std::vector<ToxicSpec> toxics) {
  return impl_->call([&] {
    if (spec.name.empty())
      throw FaultError(FaultError::Kind::bad_request, "missing required field: name");
    if (spec.upstream.empty())
      throw FaultError(FaultError::Kind::bad_request, "missing required field: upstream");
    if (!parse_host_port(spec.upstream))
      throw FaultError(FaultError::Kind::bad_request, "upstream must be HOST:PORT");
    if (impl_->proxies.count(spec.name))
      throw FaultError(FaultError::Kind::proxy_exists, "proxy already exists");
    auto p = std::make_shared<ProxyState>();
    p->spec = spec;
    p->accepted = &impl_->accepted.with({spec.name});
    p->active = &impl_->active.with({spec.name});
    p->bytes[0] = &impl_->bytes.with({spec.name, "upstream"});
    p->bytes[1] = &impl_->bytes.with({spec.name, "downstream"});
    for (auto& t : toxics) {
      if (auto problem = check_toxic(t))
        throw FaultError(FaultError::Kind::bad_request, problem->key + ": " + problem->message);
      for (auto& e : p->toxics)
        if (e.spec.name == t.name)
          throw FaultError(FaultError::Kind::toxic_exists, "toxic already exists");
      p->toxics.push_back({impl_->next_toxic_id++, t});
    }
    impl_->proxies[spec.name] = p;
    if (spec.enabled) {
      try {
        impl_->listen(*p);
      } catch (...) {
        impl_->proxies.erase(spec.name);
        throw;
      }
    }
    impl_->control_event("fault.proxy_created", *p, nullptr);
    for (auto& t : p->toxics) impl_->control_event("fault.toxic_added", *p, &t.spec);
    return Core::view(*p);
  });
}

ProxyView Relay::update(const std::string& name, const ProxySpec& spec) {
  return impl_->call([&] {
    auto p = impl_->find(name);
    if (!parse_host_port(spec.upstream))
      throw FaultError(FaultError::Kind::bad_request, "upstream must be HOST:PORT");
    const bool moved = spec.listen != p->spec.listen || spec.upstream != p->spec.upstream;
    const bool was_enabled = p->spec.enabled;
    if (p->acceptor && (moved || !spec.enabled))
      impl_->stop_listening(
          *p, spec.enabled ? "proxy restarted: listen or upstream changed" : "proxy disabled");
    if (was_enabled && !spec.enabled) impl_->control_event("fault.proxy_disabled", *p, nullptr);
    p->spec.listen = spec.listen;
    p->spec.upstream = spec.upstream;
    p->spec.enabled = spec.enabled;
    if (spec.enabled && !p->acceptor) {
      try {
        impl_->listen(*p);
      } catch (...) {
        p->spec.enabled = false;
        throw;
      }
      if (!was_enabled) impl_->control_event("fault.proxy_enabled", *p, nullptr);
    }
    return Core::view(*p);
  });
}

void Relay::remove(const std::string& name) {
  impl_->call([&] {
    auto p = impl_->find(name);
    impl_->stop_listening(*p, "proxy deleted");
    impl_->control_event("fault.proxy_deleted", *p, nullptr);
    impl_->proxies.erase(name);
    return 0;
  });
}

std::vector<ProxyView> Relay::populate(const std::vector<ProxySpec>& specs) {
  std::vector<ProxyView> out;
  for (const auto& spec : specs) {
    std::optional<ProxyView> existing;
    try {
      existing = proxy(spec.name);
    } catch (const FaultError&) {
    }
    if (existing) {
      if (spec.listen == existing->spec.listen && spec.upstream == existing->spec.upstream) {
        out.push_back(*existing);
        continue;
      }
      remove(spec.name);
    }
    out.push_back(create(spec));
  }
  return out;
}

void Relay::reset() {
  impl_->call([this] {
    for (auto& [name, p] : impl_->proxies) {
      auto toxics = p->toxics;
      for (auto& t : toxics) impl_->remove_toxic(*p, t.id);
      if (!p->spec.enabled || !p->acceptor) {
        p->spec.enabled = true;
        impl_->listen(*p);
        impl_->control_event("fault.proxy_enabled", *p, nullptr);
      }
    }
    return 0;
  });
}

ToxicSpec Relay::toxic(const std::string& proxy, const std::string& name) const {
  return impl_->call([&] {
    for (auto& t : impl_->find(proxy)->toxics)
      if (t.spec.name == name) return t.spec;
    throw FaultError(FaultError::Kind::toxic_not_found, "toxic not found");
  });
}

ToxicSpec Relay::add_toxic(const std::string& proxy, ToxicSpec spec) {
  return impl_->call([&] {
    auto p = impl_->find(proxy);
    if (auto problem = check_toxic(spec))
      throw FaultError(FaultError::Kind::bad_request, problem->message);
    for (auto& t : p->toxics)
      if (t.spec.name == spec.name)
        throw FaultError(FaultError::Kind::toxic_exists, "toxic already exists");
    p->toxics.push_back({impl_->next_toxic_id++, spec});
    const ToxicEntry entry = p->toxics.back();
    impl_->control_event("fault.toxic_added", *p, &entry.spec);
    impl_->on_toxic_added(*p, entry);
    return entry.spec;
  });
}

ToxicSpec Relay::update_toxic(const std::string& proxy, const ToxicSpec& spec) {
  return impl_->call([&] {
    auto p = impl_->find(proxy);
    for (auto& t : p->toxics) {
      if (t.spec.name != spec.name) continue;
      ToxicSpec next = t.spec;
      next.toxicity = spec.toxicity;
      next.attributes = spec.attributes;
      if (auto problem = check_toxic(next))
        throw FaultError(FaultError::Kind::bad_request, problem->message);
      t.spec = next;
      impl_->control_event("fault.toxic_updated", *p, &t.spec);
      return t.spec;
    }
    throw FaultError(FaultError::Kind::toxic_not_found, "toxic not found");
  });
}

void Relay::remove_toxic(const std::string& proxy, const std::string& name) {
  impl_->call([&] {
    auto p = impl_->find(proxy);
    auto it = std::find_if(p->toxics.begin(), p->toxics.end(),
                           [&](const ToxicEntry& e) { return e.spec.name == name; });
    if (it == p->toxics.end())
      throw FaultError(FaultError::Kind::toxic_not_found, "toxic not found");
    impl_->remove_toxic(*p, it->id);
    return 0;
  });
}

}  // namespace pgw::faults
