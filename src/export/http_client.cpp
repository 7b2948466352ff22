#include "pgwarden/export/http_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "pgwarden/export/http_url.hpp"
#include "socket_util.hpp"

namespace pgw::exporter {

namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kBodySnippet = 200;

std::string build_request(const HttpUrl& u, std::string_view content_type, std::string_view body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string req = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pgwarden\r\nContent-Type: {}\r\n"
      "Content-Length: {}\r\nConnection: close\r\n",
      u.target, u.authority(), content_type, body.size());
  for (auto& [name, value] : headers) req += fmt::format("{}: {}\r\n", name, value);
  req += "\r\n";
  req.append(body);
  return req;
}

// Sends all of `data`; on failure sets `error` (without the URL).
bool send_all(int fd, std::string_view data, Deadline deadline, std::chrono::milliseconds timeout,
              std::string& error) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      error = fmt::format("sending the request: {}", std::strerror(errno));
      return false;
    }
    if (!wait_for(fd, POLLOUT, deadline)) {
      error = fmt::format("timeout after {} sending the request", seconds(timeout));
      return false;
    }
  }
  return true;
}

enum class ReadResult { data, eof, timeout, error };

ReadResult read_some(int fd, std::string& into, Deadline deadline) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      return ReadResult::data;
    }
    if (n == 0) return ReadResult::eof;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return ReadResult::error;
    if (!wait_for(fd, POLLIN, deadline)) return ReadResult::timeout;
  }
}

std::optional<size_t> content_length(std::string_view head) {
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos) return std::nullopt;
  size_t begin = lower.find_first_not_of(' ', at + 17);
  size_t value = 0;
  auto [end, ec] = std::from_chars(lower.data() + begin, lower.data() + lower.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// Reads the status line and headers; on a non-2xx answer, the body snippet too.
bool read_response(int fd, Deadline deadline, std::chrono::milliseconds timeout,
                   std::string& error) {
  std::string in;
  size_t head_end = std::string::npos;
  while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
    if (in.size() > kMaxHeaderBytes) {
      error = "response headers too large";
      return false;
    }
    switch (read_some(fd, in, deadline)) {
      case ReadResult::data:
        continue;
      case ReadResult::eof:
        error = in.empty() ? "connection closed before a response"
                           : "connection closed in the response headers";
        return false;
      case ReadResult::timeout:
        error = fmt::format("timeout after {} waiting for the response", seconds(timeout));
        return false;
      case ReadResult::error:
        error = fmt::format("reading the response: {}", std::strerror(errno));
        return false;
    }
  }
  std::string_view status_line = std::string_view(in).substr(0, in.find("\r\n"));
  int status = 0;
  if (status_line.starts_with("HTTP/1.") && status_line.size() >= 12) {
    std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  }
  if (status < 100 || status > 999) {
    error = fmt::format("malformed response: {}", status_line.substr(0, 100));
    return false;
  }
  if (status >= 200 && status < 300) return true;

  std::string body = in.substr(head_end + 4);
  size_t want = std::min(kBodySnippet, content_length(in.substr(0, head_end + 2)).value_or(~0ul));
  // The snippet is best effort: a slow or endless body does not change the verdict.
  while (body.size() < want && read_some(fd, body, deadline) == ReadResult::data) {
  }
  if (body.size() > kBodySnippet) body.resize(kBodySnippet);
  std::string_view reason = status_line.size() > 13 ? status_line.substr(13) : "";
  error = fmt::format("HTTP {}{}{}", status, reason.empty() ? "" : " ", reason);
  if (!body.empty()) error += ": " + body;
  return false;
}

}  // namespace

bool http_post(const std::string& url, std::string_view content_type, std::string_view body,
               std::chrono::milliseconds timeout, std::string& error,
               const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string why;
  auto u = parse_http_url(url, why);
  if (!u) {
    error = "POST " + why;
    return false;
  }
  auto fail = [&](const std::string& what) {
    error = fmt::format("POST {}: {}", url, what);
    return false;
  };
  Deadline deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  UniqueFd fd = connect_tcp(u->host, u->port, deadline, why, timed_out);
  if (!fd) {
    if (timed_out) return fail(fmt::format("timeout after {} connecting", seconds(timeout)));
    return fail(why);
  }
  if (!send_all(fd.get(), build_request(*u, content_type, body, headers), deadline, timeout, why))
    return fail(why);
  if (!read_response(fd.get(), deadline, timeout, why)) return fail(why);
  return true;
}

}  // namespace pgw::exporter
