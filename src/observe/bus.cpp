#include "pgwarden/observe/bus.hpp"

#include <algorithm>

namespace pgw::observe {

EventBus::~EventBus() {
  std::shared_ptr<const Sinks> sinks;
  {
    std::lock_guard lock(mu_);
    sinks = std::move(sinks_);
    sinks_ = std::make_shared<Sinks>();
  }
  // A sink thread may be announcing into the other sinks; silence all of
  // them before the first one is destroyed.
  for (auto& s : *sinks) s->stop_announcing();
}

void EventBus::add_sink(std::unique_ptr<AsyncSink> sink) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Sinks>(*sinks_);
  next->push_back(std::move(sink));
  sinks_ = std::move(next);
}

void EventBus::add_listener(Listener listener) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Listeners>(*listeners_);
  next->push_back(std::move(listener));
  listeners_ = std::move(next);
}

void EventBus::publish(const ConnectionEvent& e) {
  std::shared_ptr<const Sinks> sinks;
  std::shared_ptr<const Listeners> listeners;
  {
    std::lock_guard lock(mu_);
    events_[e.event]++;
    if (e.event.ends_with(".close")) closes_[{e.side, e.initiator, e.cause}]++;
    if (recent_capacity_ > 0) {
      if (recent_.size() >= recent_capacity_) recent_.pop_front();
      recent_.push_back(e);
    }
    sinks = sinks_;
    listeners = listeners_;
  }
  for (auto& l : *listeners) l(e);
  if (sinks->empty()) return;
  const std::string json = to_json(e);  // once for every sink
  for (auto& s : *sinks) s->push(e, json);
}

std::map<CloseKey, uint64_t> EventBus::close_counts() const {
  std::lock_guard lock(mu_);
  return closes_;
}

std::map<std::string, uint64_t> EventBus::event_counts() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::vector<ConnectionEvent> EventBus::recent(size_t max) const {
  std::lock_guard lock(mu_);
  size_t n = std::min(max, recent_.size());
  return {recent_.end() - static_cast<long>(n), recent_.end()};
}

std::vector<ConnectionEvent> EventBus::recent_since(SystemClock::time_point since,
                                                    size_t max) const {
  std::vector<ConnectionEvent> out;
  std::lock_guard lock(mu_);
  // A linear scan: timestamps are taken before publish, so concurrent
  // publishers can leave the ring slightly out of order.
  for (auto& e : recent_) {
    if (out.size() >= max) break;
    if (e.ts >= since) out.push_back(e);
  }
  return out;
}

void EventBus::set_recent_capacity(size_t capacity) {
  std::lock_guard lock(mu_);
  recent_capacity_ = capacity;
  while (recent_.size() > capacity) recent_.pop_front();
}

void EventBus::reopen_sinks() {
  std::shared_ptr<const Sinks> sinks;
  {
    std::lock_guard lock(mu_);
    sinks = sinks_;
  }
  for (auto& s : *sinks) s->request_reopen();
}

std::vector<SinkHealth> EventBus::sink_health() const {
  std::shared_ptr<const Sinks> sinks;
  {
    std::lock_guard lock(mu_);
    sinks = sinks_;
  }
  std::vector<SinkHealth> out;
  for (auto& s : *sinks) out.push_back(s->health());
  return out;
}

bool EventBus::flush(std::chrono::milliseconds timeout) {
  std::shared_ptr<const Sinks> sinks;
  {
    std::lock_guard lock(mu_);
    sinks = sinks_;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool all = true;
  for (auto& s : *sinks) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    all = s->flush(std::max(left, std::chrono::milliseconds(0))) && all;
  }
  return all;
}

}  // namespace pgw::observe
