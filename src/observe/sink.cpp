#include "pgwarden/observe/sink.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>

namespace pgw::observe {

AsyncSink::AsyncSink(SinkOptions opts, std::unique_ptr<Transport> transport,
                     std::function<void(ConnectionEvent)> announce)
    : opts_(std::move(opts)), transport_(std::move(transport)), announce_(std::move(announce)) {
  // Zero sizes would either drop everything or never deliver.
  opts_.queue_size = std::max<size_t>(opts_.queue_size, 1);
  opts_.batch_size = std::max<size_t>(opts_.batch_size, 1);
  opts_.retry_min = std::max(opts_.retry_min, std::chrono::milliseconds(1));
  opts_.retry_max = std::max(opts_.retry_max, opts_.retry_min);
  health_.name = opts_.name;
  thread_ = std::thread([this] { run(); });
}

AsyncSink::~AsyncSink() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AsyncSink::push(const ConnectionEvent& e, const std::string& json) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    // The sink's own announcement may exceed the bound: a report of lost
    // events must not be lost itself.
    bool own_announcement = std::this_thread::get_id() == thread_.get_id();
    if (queue_.size() >= opts_.queue_size && !own_announcement) {
      ++health_.dropped;
      ++dropped_since_announce_;
      return;
    }
    queue_.push_back({e, json});
    // The thread waits for a first event, then for a full batch: waking it
    // for every event in between would cost a context switch per event.
    wake = queue_.size() == 1 || queue_.size() == opts_.batch_size;
  }
  if (wake) cv_.notify_one();
}

void AsyncSink::request_reopen() {
  {
    std::lock_guard lock(mu_);
    reopen_ = true;
  }
  cv_.notify_one();
}

bool AsyncSink::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  ++flush_waiters_;
  cv_.notify_one();
  bool emptied =
      drained_.wait_for(lock, timeout, [&] { return queue_.empty() && in_flight_ == 0; });
  --flush_waiters_;
  return emptied;
}

void AsyncSink::stop_announcing() {
  std::unique_lock lock(mu_);
  muted_ = true;
  drained_.wait(lock, [&] { return !announcing_; });
}

SinkHealth AsyncSink::health() const {
  std::lock_guard lock(mu_);
  SinkHealth h = health_;
  h.queued = queue_.size() + in_flight_;
  return h;
}

void AsyncSink::run() {
  std::vector<SerializedEvent> batch;
  std::unique_lock lock(mu_);
  while (next_batch(lock, batch)) {
    bool delivered = deliver_with_retry(lock, batch);
    in_flight_ = 0;
    batch.clear();
    if (!delivered) {
      // Only happens when stopping: the transport had its last chance.
      health_.dropped += queue_.size();
      queue_.clear();
    }
    drained_.notify_all();
  }
  drained_.notify_all();
}

bool AsyncSink::next_batch(std::unique_lock<std::mutex>& lock,
                           std::vector<SerializedEvent>& batch) {
  for (;;) {
    if (reopen_) {
      reopen_ = false;
      lock.unlock();
      transport_->reopen();
      lock.lock();
      continue;
    }
    if (queue_.empty()) {
      if (stopping_) return false;
      cv_.wait(lock, [&] { return stopping_ || reopen_ || !queue_.empty(); });
      continue;
    }
    // Let a batch fill up, unless someone is waiting for the queue to empty.
    auto ready = [&] {
      return stopping_ || reopen_ || flush_waiters_ > 0 || queue_.size() >= opts_.batch_size;
    };
    if (!ready()) cv_.wait_for(lock, opts_.flush_interval, ready);
    if (reopen_) continue;
    size_t n = std::min(opts_.batch_size, queue_.size());
    batch.assign(std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.begin() + static_cast<long>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(n));
    in_flight_ = n;
    return true;
  }
}

bool AsyncSink::deliver_with_retry(std::unique_lock<std::mutex>& lock,
                                   const std::vector<SerializedEvent>& batch) {
  auto backoff = opts_.retry_min;
  bool final_attempt = stopping_;
  for (;;) {
    lock.unlock();
    std::string error;
    bool ok = false;
    try {
      ok = transport_->deliver(batch, error);
    } catch (const std::exception& ex) {
      error = ex.what();
    }
    lock.lock();
    if (ok) {
      health_.up = true;
      health_.sent += batch.size();
      if (failing_ || dropped_since_announce_ > 0) {
        uint64_t dropped = dropped_since_announce_;
        failing_ = false;
        dropped_since_announce_ = 0;
        announce(lock, recovered_event(dropped));
      }
      return true;
    }
    if (error.empty()) error = "delivery failed";
    health_.up = false;
    ++health_.failures;
    health_.last_error = error;
    if (!failing_) {
      failing_ = true;
      announce(lock, failing_event(error));
    }
    if (final_attempt) return false;
    cv_.wait_for(lock, backoff, [&] { return stopping_ || reopen_; });
    if (reopen_) {
      // A reopen may be what fixes the failure (the log directory came back).
      reopen_ = false;
      lock.unlock();
      transport_->reopen();
      lock.lock();
    }
    if (stopping_) final_attempt = true;
    backoff = std::min(backoff * 2, opts_.retry_max);
  }
}

void AsyncSink::announce(std::unique_lock<std::mutex>& lock, ConnectionEvent e) {
  if (!announce_ || muted_) return;
  announcing_ = true;
  lock.unlock();
  try {
    announce_(std::move(e));
  } catch (const std::exception&) {
    // An announcement is best effort; the sink keeps delivering.
  }
  lock.lock();
  announcing_ = false;
  drained_.notify_all();
}

ConnectionEvent AsyncSink::failing_event(const std::string& error) const {
  ConnectionEvent e;
  e.event = "sink.failing";
  e.cause = "sink_failing";
  e.sink = opts_.name;
  e.message = fmt::format("event sink {} is failing: {}", opts_.name, error);
  return e;
}

ConnectionEvent AsyncSink::recovered_event(uint64_t dropped) const {
  ConnectionEvent e;
  e.event = "sink.recovered";
  e.cause = "sink_recovered";
  e.sink = opts_.name;
  e.count = static_cast<int64_t>(dropped);
  e.message =
      fmt::format("event sink {} recovered; {} events dropped meanwhile", opts_.name, dropped);
  return e;
}

}  // namespace pgw::observe
