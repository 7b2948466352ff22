#include "http_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace pgw::test {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

HttpReceiver::HttpReceiver(uint16_t port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error(std::string("http receiver: ") + std::strerror(errno));
  }
  socklen_t len = sizeof sa;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.sin_port);
  thread_ = std::thread([this] { serve(); });
}

HttpReceiver::~HttpReceiver() {
  stop();
}

std::string HttpReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpReceiver::set_mode(Mode m) {
  std::lock_guard lock(mu_);
  mode_ = m;
}

void HttpReceiver::set_error_body(std::string body) {
  std::lock_guard lock(mu_);
  error_body_ = std::move(body);
}

std::vector<HttpRequest> HttpReceiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

bool HttpReceiver::wait_for_requests(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void HttpReceiver::stop() {
  if (stopping_.exchange(true)) return;
  thread_.join();
  ::close(listen_fd_);
}

void HttpReceiver::serve() {
  while (!stopping_) {
    if (!readable(listen_fd_, 20)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void HttpReceiver::handle(int fd) {
  std::string in;
  size_t head_end = std::string::npos;
  size_t body_len = 0;
  HttpRequest req;
  while (!stopping_) {
    if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
      std::string head = in.substr(0, head_end);
      size_t line_end = head.find("\r\n");
      std::string first = head.substr(0, line_end);
      req.method = first.substr(0, first.find(' '));
      req.target = first.substr(first.find(' ') + 1, first.rfind(' ') - first.find(' ') - 1);
      for (size_t at = line_end; at != std::string::npos && at < head.size();) {
        size_t next = head.find("\r\n", at + 2);
        std::string line = head.substr(at + 2, next == std::string::npos ? next : next - at - 2);
        size_t colon = line.find(':');
        if (colon != std::string::npos)
          req.headers[lower(line.substr(0, colon))] =
              line.substr(line.find_first_not_of(' ', colon + 1));
        at = next;
      }
      body_len = std::stoul(req.headers.count("content-length") ? req.headers["content-length"]
                                                                : std::string("0"));
    }
    if (head_end != std::string::npos && in.size() >= head_end + 4 + body_len) break;
    if (!readable(fd, 20)) continue;
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    in.append(buf, static_cast<size_t>(n));
  }
  if (stopping_) return;
  req.body = in.substr(head_end + 4, body_len);
  Mode mode;
  std::string error_body;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(req);
    mode = mode_;
    error_body = error_body_;
  }
  cv_.notify_all();
  if (mode == Mode::ok) {
    send_all(fd, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  } else if (mode == Mode::error500) {
    send_all(fd,
             "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: " +
                 std::to_string(error_body.size()) + "\r\nConnection: close\r\n\r\n" + error_body);
  } else {
    while (!stopping_ && !readable(fd, 20)) {
    }  // never answer; the client's deadline must end it
  }
}

}  // namespace pgw::test
