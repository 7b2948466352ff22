#pragma once
// Where events go: every publish() updates the in-memory counters and the
// recent-events ring, calls the synchronous listeners, then hands the event to
// each AsyncSink's queue. No I/O happens in publish(): sinks deliver from
// their own threads.
//
// Order: the counters and ring are updated under the bus mutex; listeners and
// sinks are called after it is released, so a listener may publish itself
// (no deadlock) and a slow listener does not stall other publishers. Events
// published by one thread (one connection's strand) reach every listener and
// sink in publish order; events published at the same moment by different
// threads have no defined relative order.
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pgwarden/observe/event.hpp"
#include "pgwarden/observe/sink.hpp"

namespace pgw::observe {

struct CloseKey {
  std::string side, initiator, cause;
  auto operator<=>(const CloseKey&) const = default;
};

class EventBus {
 public:
  using Listener = std::function<void(const ConnectionEvent&)>;

  EventBus() = default;
  ~EventBus();  // stops announcements, then delivers what the sinks hold (see ~AsyncSink)
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  void add_sink(std::unique_ptr<AsyncSink> sink);
  // Cheap callbacks (metrics, forensics) called on the publishing thread.
  void add_listener(Listener listener);
  void publish(const ConnectionEvent& e);

  std::map<CloseKey, uint64_t> close_counts() const;
  std::map<std::string, uint64_t> event_counts() const;
  // The newest `max` events, oldest first.
  std::vector<ConnectionEvent> recent(size_t max) const;
  // Events with ts >= since, oldest first, at most `max` (the oldest ones, so
  // a caller pages forward by asking again from the last ts it got).
  std::vector<ConnectionEvent> recent_since(SystemClock::time_point since, size_t max) const;
  // Events kept for recent(); default 10000. Shrinking drops the oldest.
  void set_recent_capacity(size_t capacity);

  void reopen_sinks();  // SIGUSR1
  std::vector<SinkHealth> sink_health() const;
  // Waits until every sink's queue is empty or `timeout` passes; true if all emptied.
  bool flush(std::chrono::milliseconds timeout);

 private:
  using Sinks = std::vector<std::shared_ptr<AsyncSink>>;
  using Listeners = std::vector<Listener>;

  mutable std::mutex mu_;
  // Copy-on-write snapshots: publish() copies the pointer under the mutex and
  // calls them after releasing it.
  std::shared_ptr<const Sinks> sinks_ = std::make_shared<Sinks>();
  std::shared_ptr<const Listeners> listeners_ = std::make_shared<Listeners>();
  std::map<CloseKey, uint64_t> closes_;
  std::map<std::string, uint64_t> events_;
  std::deque<ConnectionEvent> recent_;
  size_t recent_capacity_ = 10'000;
};

}  // namespace pgw::observe
