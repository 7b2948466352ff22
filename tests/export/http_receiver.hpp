#pragma once
// A tiny HTTP/1.1 server on 127.0.0.1 standing in for Loki, an OTLP collector
// or a webhook endpoint: records every request and answers as told (2xx,
// 500 with a body, or not at all). One thread, one connection at a time.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgw::test {

struct HttpRequest {
  std::string method, target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class HttpReceiver {
 public:
  enum class Mode { ok, error500, stall };

  // Port 0 picks a free one; a given port is reused (SO_REUSEADDR). Throws on failure.
  explicit HttpReceiver(uint16_t port = 0);
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "") const;
  void set_mode(Mode m);
  void set_error_body(std::string body);
  std::vector<HttpRequest> requests() const;
  // Waits (bounded) until at least `n` requests arrived.
  bool wait_for_requests(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void stop();  // closes the listener: later connections are refused

 private:
  void serve();
  void handle(int fd);
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Mode mode_ = Mode::ok;
  std::string error_body_ = "internal error";
  std::vector<HttpRequest> requests_;
  std::thread thread_;
};

}  // namespace pgw::test
