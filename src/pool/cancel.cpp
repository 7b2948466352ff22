#include "pgwarden/pool/cancel.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "pgwarden/wire/codec.hpp"

namespace pgw::pool {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {
asio::awaitable<std::string> deliver(asio::ip::tcp::socket& sock, asio::ip::tcp::endpoint server,
                                     std::string msg) {
  boost::system::error_code ec;
  co_await sock.async_connect(server, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return "connect: " + ec.message();
  co_await asio::async_write(sock, asio::buffer(msg),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return "write: " + ec.message();
  char b;
  co_await sock.async_read_some(asio::buffer(&b, 1), asio::redirect_error(asio::use_awaitable, ec));
  co_return std::string();  // closed by the server (or it answered): the request was read
}
}  // namespace

asio::awaitable<std::string> send_cancel(asio::ip::tcp::endpoint server, uint32_t backend_pid,
                                         uint32_t backend_key, std::chrono::milliseconds bound) {
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::socket sock(ex);
  asio::steady_timer timer(ex, bound);
  std::string msg;
  wire::cancel_request(msg, backend_pid, backend_key);
  auto r =
      co_await (deliver(sock, server, std::move(msg)) || timer.async_wait(asio::use_awaitable));
  if (r.index() == 1) co_return "no answer within cancel_wait_timeout";
  co_return std::get<0>(r);
}

}  // namespace pgw::pool
