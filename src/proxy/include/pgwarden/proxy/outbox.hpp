#pragma once
// Serialises writes to one socket from the coroutines of one strand: asio
// forbids overlapping async_write on a socket, and both the client reader
// (its own errors, synthetic responses) and the server reader write to the
// client. Whoever finds the outbox idle drains it; others just append.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <string>
#include <string_view>

#include "pgwarden/observe/metrics.hpp"

namespace pgw::proxy {

class Outbox {
 public:
  explicit Outbox(boost::asio::ip::tcp::socket& sock) : sock_(sock) {}

  boost::asio::awaitable<void> send(std::string_view data) {
    pending_.append(data);
    if (busy_) co_return;
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
      }
    } catch (...) {
      busy_ = false;
      pending_.clear();
      throw;
    }
    busy_ = false;
  }
  uint64_t written() const { return written_; }
  void count_into(observe::Counter* sent) { sent_ = sent; }

 private:
  boost::asio::ip::tcp::socket& sock_;
  std::string pending_, writing_;
  bool busy_ = false;
  uint64_t written_ = 0;
  observe::Counter* sent_ = nullptr;
};

}  // namespace pgw::proxy
