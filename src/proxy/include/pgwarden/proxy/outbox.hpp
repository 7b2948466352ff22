#pragma once
// Serialises writes to one socket from the coroutines of one strand: asio
// forbids overlapping async_write on a socket, and both the client reader
// (its own errors, synthetic responses) and the server reader write to the
// client. Whoever finds the outbox idle drains it; others append and, while
// more than `limit` bytes wait, are held until the peer reads: a client that
// does not read pauses its server link's reads instead of growing memory.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/net/stream.hpp"
#include "pgwarden/observe/metrics.hpp"

namespace pgw::proxy {

// One per connection, client or server link (either may carry TLS).
class Outbox {
 public:
  explicit Outbox(net::Stream& sock) : sock_(sock) {}

  // Queues `data`. Returns once it is written (when this call drains) or once
  // the queue is back under the limit (when another call drains). Throws the
  // socket's error when this call drains and the write fails.
  boost::asio::awaitable<void> send(std::string_view data) {
    pending_.append(data);
    if (busy_) {
      while (busy_ && limit_ > 0 && pending_.size() > limit_) co_await wait_progress({});
      co_return;
    }
    busy_ = true;
    try {
      while (!pending_.empty()) {
        writing_.swap(pending_);
        pending_.clear();
        co_await boost::asio::async_write(sock_, boost::asio::buffer(writing_),
                                          boost::asio::use_awaitable);
        written_ += writing_.size();
        if (sent_) sent_->inc(writing_.size());
        writing_.clear();
        wake_all();
      }
    } catch (...) {
      busy_ = false;
      pending_.clear();
      wake_all();
      throw;
    }
    busy_ = false;
    wake_all();
  }

  // Waits until everything queued is written (or the write failed), at most
  // `bound`: before a close, so that a FATAL is not lost behind other output.
  boost::asio::awaitable<bool> flushed(std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (busy_ && std::chrono::steady_clock::now() < deadline) co_await wait_progress(deadline);
    co_return !busy_;
  }

  uint64_t written() const { return written_; }
  // A write is under way (its completion has not run yet).
  bool busy() const { return busy_; }
  void count_into(observe::Counter* sent) { sent_ = sent; }
  // Bytes a non-draining sender may leave queued before it is held; 0 = no limit.
  void set_limit(size_t bytes) { limit_ = bytes; }

 private:
  boost::asio::awaitable<void> wait_progress(std::chrono::steady_clock::time_point deadline) {
    boost::asio::steady_timer t(sock_.get_executor());
    if (deadline == std::chrono::steady_clock::time_point{})
      t.expires_at(std::chrono::steady_clock::time_point::max());
    else
      t.expires_at(deadline);
    struct Registered {  // unregisters even if the coroutine is destroyed mid-wait
      std::vector<boost::asio::steady_timer*>& list;
      boost::asio::steady_timer* timer;
      ~Registered() { std::erase(list, timer); }
    } reg{waiters_, &t};
    waiters_.push_back(&t);
    boost::system::error_code ec;
    co_await t.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
  void wake_all() {
    for (auto* t : waiters_) t->cancel();
  }

  net::Stream& sock_;
  std::string pending_, writing_;
  bool busy_ = false;
  size_t limit_ = 0;
  uint64_t written_ = 0;
  observe::Counter* sent_ = nullptr;
  std::vector<boost::asio::steady_timer*> waiters_;
};

}  // namespace pgw::proxy
