#pragma once
// Event delivery that never blocks the proxy: publish() only appends to a
// bounded in-memory queue; one thread per sink hands batches to its
// Transport. When the queue is full the newest event is dropped and counted;
// when a failing transport delivers again, the sink announces how many events
// it lost. Threads, no sockets: transports that talk to the network live in
// src/export.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pgwarden/observe/event.hpp"

namespace pgw::observe {

// One event ready for delivery: the record and its JSON line (no newline).
struct SerializedEvent {
  ConnectionEvent event;
  std::string json;
};

// Delivers batches somewhere. Called only from its sink's thread.
class Transport {
 public:
  virtual ~Transport() = default;
  // Returns false and sets `error` when the batch was not delivered; the
  // sink then retries the same batch with backoff.
  virtual bool deliver(const std::vector<SerializedEvent>& batch, std::string& error) = 0;
  // Reopen files (SIGUSR1 after logrotate). Default: nothing to reopen.
  virtual void reopen() {}
};

struct SinkOptions {
  std::string name;            // "stdout", "file:/var/log/x", "loki:http://...": labels metrics
  size_t queue_size = 10'000;  // events buffered before drops begin
  size_t batch_size = 500;     // events per deliver() call at most
  std::chrono::milliseconds flush_interval{200};  // longest an event waits for a batch to fill
  std::chrono::milliseconds retry_min{200}, retry_max{10'000};  // backoff between failed tries
};

struct SinkHealth {
  std::string name;
  bool up = true;         // last delivery attempt succeeded
  uint64_t sent = 0;      // events delivered
  uint64_t dropped = 0;   // events lost because the queue was full
  uint64_t failures = 0;  // failed deliver() calls
  size_t queued = 0;
  std::string last_error;
};

class AsyncSink {
 public:
  // `announce` is called from the sink thread with a sink.failing /
  // sink.recovered event for the other sinks (the bus publishes it). No lock
  // of the sink is held during the call, so it may push() to this very sink;
  // a sink's own announcement is queued even when the queue is full.
  AsyncSink(SinkOptions opts, std::unique_ptr<Transport> transport,
            std::function<void(ConnectionEvent)> announce = {});
  ~AsyncSink();  // delivers what is queued (bounded by one retry), then stops the thread
  AsyncSink(const AsyncSink&) = delete;
  AsyncSink& operator=(const AsyncSink&) = delete;

  void push(const ConnectionEvent& e, const std::string& json);  // never blocks on I/O
  void request_reopen();
  // Waits until the queue is empty or `timeout` passes; true if emptied.
  // A partial batch is delivered at once instead of after flush_interval.
  bool flush(std::chrono::milliseconds timeout);
  // After return, `announce` is never called again (waits for a call in
  // progress). The bus calls it on every sink before destroying any, so no
  // sink thread announces into a sink being destroyed.
  void stop_announcing();
  // `queued` counts the batch being delivered as well as the waiting events.
  SinkHealth health() const;
  const std::string& name() const { return opts_.name; }

 private:
  void run();
  // Takes the next batch into `batch` (under `lock`); false when stopping with nothing left.
  bool next_batch(std::unique_lock<std::mutex>& lock, std::vector<SerializedEvent>& batch);
  bool deliver_with_retry(std::unique_lock<std::mutex>& lock,
                          const std::vector<SerializedEvent>& batch);
  void announce(std::unique_lock<std::mutex>& lock, ConnectionEvent e);
  ConnectionEvent failing_event(const std::string& error) const;
  ConnectionEvent recovered_event(uint64_t dropped) const;

  SinkOptions opts_;
  std::unique_ptr<Transport> transport_;
  std::function<void(ConnectionEvent)> announce_;
  mutable std::mutex mu_;
  std::condition_variable cv_, drained_;
  std::deque<SerializedEvent> queue_;
  bool stopping_ = false, reopen_ = false, announcing_ = false, muted_ = false;
  size_t in_flight_ = 0;   // events of the batch being delivered
  int flush_waiters_ = 0;  // flush() callers: deliver partial batches now
  bool failing_ = false;   // sink.failing announced, sink.recovered not yet
  SinkHealth health_;
  uint64_t dropped_since_announce_ = 0;
  std::thread thread_;
};

}  // namespace pgw::observe
