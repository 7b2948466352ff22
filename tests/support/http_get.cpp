#include "http_get.hpp"

#include "proxy_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>

namespace pgw::test {

HttpReply http_get(int port, const std::string& target, double timeout_s) {
  return http_request(port, "GET", target, {}, timeout_s);
}

HttpReply http_request(int port, const std::string& method, const std::string& target,
                       const std::string& body_text, double timeout_s) {
  HttpReply reply;
  int fd = raw_connect(port);
  if (fd < 0) return reply;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body_text.empty() || method != "GET")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body_text.size()) +
           "\r\n";
  req += "\r\n" + body_text;
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string raw;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(long(timeout_s * 1000));
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) return reply;
  reply.status = std::atoi(raw.c_str() + 9);
  std::string head = raw.substr(0, head_end);
  std::istringstream lines(head);
  std::string line;
  bool chunked = false;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon), value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "content-type") reply.content_type = value;
    if (key == "transfer-encoding" && value.find("chunked") != std::string::npos) chunked = true;
  }
  std::string body = raw.substr(head_end + 4);
  if (chunked) {
    std::string out;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t eol = body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t len = std::strtoul(body.c_str() + pos, nullptr, 16);
      if (len == 0) break;
      out.append(body, eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    body = out;
  }
  reply.body = body;
  return reply;
}

std::optional<double> metric_value(const std::string& exposition, const std::string& series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return std::nullopt;
}

}  // namespace pgw::test
