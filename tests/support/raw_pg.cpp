#include "raw_pg.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "pgwarden/wire/codec.hpp"
#include "proxy_process.hpp"

namespace pgw::test {

namespace wire = pgw::wire;

RawPg::RawPg(int port, const std::string& user, const std::string& database) : port_(port) {
  fd_ = raw_connect(port);
  if (fd_ < 0) return;
  std::string s;
  wire::startup_message(s, {{"user", user}, {"database", database}});
  send(s);
  // A refused login ends with ErrorResponse and a close, not ReadyForQuery.
  greeting_ = read_until('Z');
  for (const auto& m : greeting_) {
    if (m.type == 'K') wire::parse_backend_key_data(m.body, backend_pid_, cancel_key_);
  }
  logged_in_ = !greeting_.empty() && greeting_.back().type == 'Z';
}

RawPg::~RawPg() {
  if (fd_ >= 0) ::close(fd_);
}

void RawPg::send(const std::string& bytes) {
  if (fd_ >= 0) ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

std::vector<RawMessage> RawPg::read_until(char type, int count, double seconds) {
  return read_messages(std::string(1, type), count, seconds);
}

std::vector<RawMessage> RawPg::read_until_any(const std::string& any_types, double seconds) {
  return read_messages(any_types, 1, seconds);
}

int RawPg::local_port() const {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.sin_port);
}

std::vector<RawMessage> RawPg::read_messages(const std::string& stop_types, int count,
                                             double seconds) {
  std::vector<RawMessage> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int seen = 0;
  for (;;) {
    wire::Frame f;
    size_t used = 0;  // erased once: erasing per frame is quadratic on big results
    bool done = false;
    while (!done && wire::next_frame(std::string_view(buf_).substr(used), 1u << 30, f) ==
                        wire::FrameStatus::ok) {
      out.push_back({f.type, std::string(f.body)});
      used += f.size;
      done = stop_types.find(f.type) != std::string::npos && ++seen >= count;
    }
    buf_.erase(0, used);
    if (done) return out;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0 || fd_ < 0 || peer_closed_) return out;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char b[8192];
    ssize_t n = ::recv(fd_, b, sizeof b, 0);
    if (n <= 0) {
      peer_closed_ = true;
      return out;
    }
    buf_.append(b, static_cast<size_t>(n));
  }
}

std::vector<RawMessage> RawPg::read_for(double seconds) {
  // No message has type 0: this reads until the time is up or the peer closes.
  return read_until('\0', 1, seconds);
}

void RawPg::vanish() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawPg::terminate() {
  send(terminate_message());
  vanish();
}

bool RawPg::cancel(double seconds) const {
  int fd = raw_connect(port_);
  if (fd < 0) return false;
  std::string req;
  wire::cancel_request(req, backend_pid_, cancel_key_);
  const bool sent =
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  // The server answers nothing and closes the connection once it has acted.
  if (sent) read_all(fd, seconds);
  ::close(fd);
  return sent;
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
  return bind(portal, statement, {});
}

std::string RawPg::bind(const std::string& portal, const std::string& statement,
                        const std::vector<std::optional<std::string>>& params) {
  std::string after;
  wire::put_u16(after, 0);  // parameter formats: all text
  wire::put_u16(after, static_cast<uint16_t>(params.size()));
  for (const auto& p : params) {
    if (!p) {
      wire::put_u32(after, 0xFFFFFFFFu);  // -1: NULL
      continue;
    }
    wire::put_u32(after, static_cast<uint32_t>(p->size()));
    after += *p;
  }
  wire::put_u16(after, 0);  // result formats: all text
  std::string out;
  wire::bind(out, portal, statement, after);
  return out;
}

std::string RawPg::execute(const std::string& portal, uint32_t max_rows) {
  std::string out;
  wire::execute(out, portal, max_rows);
  return out;
}

std::string RawPg::describe_statement(const std::string& name) {
  std::string out;
  wire::describe(out, 'S', name);
  return out;
}

std::string RawPg::describe_portal(const std::string& name) {
  std::string out;
  wire::describe(out, 'P', name);
  return out;
}

std::string RawPg::close_statement(const std::string& name) {
  std::string out;
  wire::close_statement(out, name);
  return out;
}

std::string RawPg::close_portal(const std::string& name) {
  std::string out = "C";
  wire::put_u32(out, static_cast<uint32_t>(4 + 1 + name.size() + 1));
  out += 'P';
  out += name;
  out.push_back('\0');
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

std::string RawPg::copy_data(const std::string& data) {
  std::string out = "d";
  wire::put_u32(out, static_cast<uint32_t>(4 + data.size()));
  out += data;
  return out;
}

std::string RawPg::copy_done() {
  std::string out = "c";
  wire::put_u32(out, 4);
  return out;
}

std::string RawPg::copy_fail(const std::string& message) {
  std::string out = "f";
  wire::put_u32(out, static_cast<uint32_t>(4 + message.size() + 1));
  out += message;
  out.push_back('\0');
  return out;
}

std::string RawPg::terminate_message() {
  std::string out;
  wire::terminate(out);
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

std::vector<std::optional<std::string>> row_values(const std::string& body) {
  std::vector<std::optional<std::string>> out;
  if (body.size() < 2) return out;
  const uint16_t n = wire::read_u16(body.data());
  size_t pos = 2;
  for (uint16_t i = 0; i < n; ++i) {
    if (pos + 4 > body.size()) return {};
    const uint32_t len = wire::read_u32(body.data() + pos);
    pos += 4;
    if (len == 0xFFFFFFFFu) {
      out.emplace_back(std::nullopt);
      continue;
    }
    if (pos + len > body.size()) return {};
    out.emplace_back(body.substr(pos, len));
    pos += len;
  }
  return out;
}

std::vector<std::string> column_names(const std::string& body) {
  std::vector<std::string> out;
  if (body.size() < 2) return out;
  const uint16_t n = wire::read_u16(body.data());
  size_t pos = 2;
  for (uint16_t i = 0; i < n; ++i) {
    std::string_view name;
    if (!wire::read_cstring(body, pos, name)) return {};
    out.emplace_back(name);
    pos += 18;  // table oid, column number, type oid, size, modifier, format
    if (pos > body.size()) return {};
  }
  return out;
}

std::optional<std::vector<std::vector<std::string>>> simple_rows(RawPg& c, const std::string& sql,
                                                                 std::string* error,
                                                                 double seconds) {
  c.send(RawPg::query(sql));
  auto msgs = c.read_until('Z', 1, seconds);
  if (msgs.empty() || msgs.back().type != 'Z') {
    if (error) *error = c.peer_closed() ? "connection closed" : "timeout";
    return std::nullopt;
  }
  if (std::string st = first_sqlstate(msgs); !st.empty()) {
    if (error) *error = st;
    return std::nullopt;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : msgs) {
    if (m.type != 'D') continue;
    std::vector<std::string> row;
    for (const auto& v : row_values(m.body)) row.push_back(v ? *v : "NULL");
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace pgw::test
