#pragma once
// An in-process Transport whose behaviour the test steers (block, fail) and
// which records every batch, for testing the AsyncSink queue logic.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pgwarden/observe/sink.hpp"

namespace pgw::test {

struct TransportControl {
  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false;  // deliver() waits while true
  bool fail = false;     // deliver() fails with `error` while true
  std::string error = "boom";
  int calls = 0;
  std::vector<std::vector<std::string>> batches;  // delivered JSON lines

  void set_blocked(bool b) {
    std::lock_guard lock(mu);
    blocked = b;
    cv.notify_all();
  }
  void set_fail(bool f) {
    std::lock_guard lock(mu);
    fail = f;
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (auto& b : batches) out.insert(out.end(), b.begin(), b.end());
    return out;
  }
  std::vector<size_t> batch_sizes() {
    std::lock_guard lock(mu);
    std::vector<size_t> out;
    for (auto& b : batches) out.push_back(b.size());
    return out;
  }
  int call_count() {
    std::lock_guard lock(mu);
    return calls;
  }
};

class TestTransport : public observe::Transport {
 public:
  explicit TestTransport(std::shared_ptr<TransportControl> c) : c_(std::move(c)) {}
  bool deliver(const std::vector<observe::SerializedEvent>& batch, std::string& error) override {
    std::unique_lock lock(c_->mu);
    ++c_->calls;
    c_->cv.notify_all();
    c_->cv.wait(lock, [&] { return !c_->blocked; });
    if (c_->fail) {
      error = c_->error;
      return false;
    }
    std::vector<std::string> lines;
    for (auto& e : batch) lines.push_back(e.json);
    c_->batches.push_back(std::move(lines));
    return true;
  }

 private:
  std::shared_ptr<TransportControl> c_;
};

// Polls `done` until it holds or 10 s pass (a bound, not a timing assertion).
template <class Pred>
bool eventually(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace pgw::test
