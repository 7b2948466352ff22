#include "raw_pg.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "pgwarden/wire/codec.hpp"
#include "proxy_process.hpp"

namespace pgw::test {

namespace wire = pgw::wire;

RawPg::RawPg(int port, const std::string& user, const std::string& database) {
  fd_ = raw_connect(port);
  if (fd_ < 0) return;
  std::string s;
  wire::startup_message(s, {{"user", user}, {"database", database}});
  send(s);
  auto msgs = read_until('Z');
  logged_in_ = !msgs.empty() && msgs.back().type == 'Z';
}

RawPg::~RawPg() {
  if (fd_ >= 0) ::close(fd_);
}

void RawPg::send(const std::string& bytes) {
  if (fd_ >= 0) ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

std::vector<RawMessage> RawPg::read_until(char type, int count, double seconds) {
  std::vector<RawMessage> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int seen = 0;
  for (;;) {
    wire::Frame f;
    while (wire::next_frame(buf_, 1u << 30, f) == wire::FrameStatus::ok) {
      out.push_back({f.type, std::string(f.body)});
      buf_.erase(0, f.size);
      if (f.type == type && ++seen >= count) return out;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0 || fd_ < 0) return out;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char b[8192];
    ssize_t n = ::recv(fd_, b, sizeof b, 0);
    if (n <= 0) return out;
    buf_.append(b, static_cast<size_t>(n));
  }
}

void RawPg::vanish() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string RawPg::parse(const std::string& name, const std::string& sql) {
  std::string rest = sql;
  rest.push_back('\0');
  wire::put_u16(rest, 0);  // no parameter types: as libpq sends for nParams = 0
  std::string out;
  wire::parse(out, name, rest);
  return out;
}

std::string RawPg::bind(const std::string& portal, const std::string& statement) {
  std::string after;
  wire::put_u16(after, 0);  // parameter formats
  wire::put_u16(after, 0);  // parameters
  wire::put_u16(after, 0);  // result formats
  std::string out;
  wire::bind(out, portal, statement, after);
  return out;
}

std::string RawPg::execute(const std::string& portal) {
  std::string out;
  wire::execute(out, portal);
  return out;
}

std::string RawPg::close_statement(const std::string& name) {
  std::string out;
  wire::close_statement(out, name);
  return out;
}

std::string RawPg::describe_statement(const std::string& name) {
  std::string out;
  wire::describe(out, 'S', name);
  return out;
}

std::string RawPg::sync() {
  std::string out;
  wire::sync(out);
  return out;
}

std::string RawPg::flush() {
  std::string out;
  wire::flush(out);
  return out;
}

std::string RawPg::query(const std::string& sql) {
  std::string out;
  wire::query(out, sql);
  return out;
}

std::string first_sqlstate(const std::vector<RawMessage>& msgs) {
  for (const auto& m : msgs) {
    if (m.type != 'E') continue;
    wire::ErrorFields e;
    wire::parse_error_fields(m.body, e);
    return e.sqlstate;
  }
  return "";
}

std::string types(const std::vector<RawMessage>& msgs) {
  std::string t;
  for (const auto& m : msgs) t.push_back(m.type);
  return t;
}

}  // namespace pgw::test
