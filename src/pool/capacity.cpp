#include "pgwarden/pool/capacity.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <charconv>

#include "pgwarden/observe/ids.hpp"
#include "pgwarden/pool/login.hpp"
#include "pgwarden/wire/codec.hpp"

namespace pgw::pool {

namespace {
int to_int(const std::string& s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}
}  // namespace

asio::awaitable<ServerCapacity> probe_capacity(const PoolSettings& ps) {
  ServerCapacity cap;
  cap.backend = fmt::format("{}:{}", ps.host, ps.port);
  ServerConn s(co_await asio::this_coro::executor, observe::next_conn_id());
  try {
    co_await connect_and_login(s, ps, ps.tls_context);
  } catch (const ProxyError& e) {
    cap.error = e.message;
    if (e.sqlstate == sqlstate::kTooManyConnections) cap.up = true;  // full: headroom 0
    co_return cap;
  }
  std::string failure;
  std::vector<std::string> row;
  const bool ok = co_await run_simple_query(
      s,
      "SELECT current_setting('max_connections'), "
      "current_setting('superuser_reserved_connections'), "
      "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')",
      failure, &row);
  if (ok && row.size() == 3) {
    cap.up = true;
    cap.max_connections = to_int(row[0]);
    cap.reserved = to_int(row[1]);
    cap.in_use = to_int(row[2]) - 1;  // not counting the probe itself
  } else {
    cap.error = failure.empty() ? "unexpected answer to the capacity query" : failure;
  }
  std::string bye;
  wire::terminate(bye);
  boost::system::error_code ec;
  co_await asio::async_write(s.stream, asio::buffer(bye),
                             asio::redirect_error(asio::use_awaitable, ec));
  s.stream.socket().close(ec);
  co_return cap;
}

}  // namespace pgw::pool
