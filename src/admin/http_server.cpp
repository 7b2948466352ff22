#include "pgwarden/admin/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "request_target.hpp"
#include "router.hpp"

namespace pgw::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kReadTimeout = 30s;   // an idle keep-alive connection is closed after this
constexpr auto kWriteTimeout = 30s;  // a client that stops reading is dropped
constexpr uint64_t kBodyLimit = 1 << 20;
constexpr auto kAcceptRetryDelay = 100ms;  // after EMFILE and the like, instead of spinning

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Statuses for a request Beast could not read; 0 means close silently
// (end of stream, timeout, reset, shutdown).
int status_for_read_error(const beast::error_code& ec) {
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) return 400;
  return 0;
}

http::response<http::string_body> to_beast(const HttpResponse& r, unsigned version, bool keep_alive,
                                           const std::string& allow) {
  http::response<http::string_body> res;
  res.version(version);
  if (r.status < 100 || r.status > 599) {
    return to_beast(json_error(500, "handler returned status " + std::to_string(r.status)), version,
                    keep_alive, {});
  }
  res.result(static_cast<unsigned>(r.status));
  res.set(http::field::server, "pgwarden");
  res.set(http::field::content_type, r.content_type);
  if (!allow.empty()) res.set(http::field::allow, allow);
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace

struct HttpServer::Impl {
  HostPort listen;
  Router router;
  mutable std::mutex bound_mu;
  HostPort bound;
  // Touched only on the server thread (or after it is joined). Declared
  // before ioc: coroutine frames destroyed with it unregister from the list.
  bool stopping = false;
  std::list<beast::tcp_stream*> open_streams;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  void close_everything();
  void run();
};

asio::awaitable<void> HttpServer::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (stopping) co_return;
    if (ec) {
      spdlog::warn("admin: accept failed: {}", ec.message());
      asio::steady_timer delay(ioc, kAcceptRetryDelay);
      co_await delay.async_wait(use_tuple);
      continue;
    }
    asio::co_spawn(ioc, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::Impl::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  // Registered so stop() can close it; unregistered however the coroutine ends.
  auto registered = open_streams.insert(open_streams.end(), &stream);
  struct Unregister {
    std::list<beast::tcp_stream*>& list;
    std::list<beast::tcp_stream*>::iterator it;
    ~Unregister() { list.erase(it); }
  } unregister{open_streams, registered};

  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    stream.expires_after(kReadTimeout);
    auto [read_ec, read_n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (read_ec) {
      if (int status = status_for_read_error(read_ec); status != 0 && !stopping) {
        std::string message = status == 413
                                  ? "request body exceeds " + std::to_string(kBodyLimit) + " bytes"
                                  : "bad request: " + read_ec.message();
        auto res = to_beast(json_error(status, message), 11, false, {});
        stream.expires_after(kWriteTimeout);
        co_await http::async_write(stream, res, use_tuple);
      }
      break;
    }
    auto& req = parser.get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    parse_target(req.target(), request);
    request.body = std::move(req.body());
    // Handlers run on this thread: the admin API is small, and one slow
    // handler delays only other admin requests, never the proxy.
    Router::Result result = router.dispatch(request);
    auto res = to_beast(result.response, req.version(), req.keep_alive(), result.allow);
    stream.expires_after(kWriteTimeout);
    auto [write_ec, write_n] = co_await http::async_write(stream, res, use_tuple);
    if (write_ec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

void HttpServer::Impl::close_everything() {
  stopping = true;
  beast::error_code ignored;
  acceptor.close(ignored);
  for (beast::tcp_stream* s : open_streams) s->close();
}

void HttpServer::Impl::run() {
  // A coroutine that throws ends up here; keep serving the others.
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("admin: HTTP server: {}", e.what());
    }
  }
}

HttpServer::HttpServer(HostPort listen) : impl_(std::make_unique<Impl>()) {
  impl_->listen = std::move(listen);
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::route(const std::string& method, const std::string& path, Handler h) {
  impl_->router.add(method, path, std::move(h));
}

void HttpServer::route_prefix(const std::string& prefix, Handler h) {
  impl_->router.add_prefix(prefix, std::move(h));
}

void HttpServer::start() {
  if (impl_->thread.joinable() || impl_->stopping)
    throw std::logic_error("admin HTTP server: start() called twice");
  const HostPort& listen = impl_->listen;
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto endpoints = resolver.resolve(listen.host, std::to_string(listen.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) throw std::runtime_error("admin: cannot resolve " + listen.str() + ": " + ec.message());
  beast::error_code last = asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    tcp::acceptor& a = impl_->acceptor;
    if (a.is_open()) a.close(ec);
    a.open(entry.endpoint().protocol(), last);
    if (last) continue;
    a.set_option(asio::socket_base::reuse_address(true), ec);
    a.bind(entry.endpoint(), last);
    if (!last) a.listen(asio::socket_base::max_listen_connections, last);
    if (!last) break;
  }
  if (last) {
    impl_->acceptor.close(ec);
    throw std::runtime_error("admin: cannot listen on " + listen.str() + ": " + last.message());
  }
  auto local = impl_->acceptor.local_endpoint();
  {
    std::lock_guard lock(impl_->bound_mu);
    impl_->bound = {local.address().to_string(), local.port()};
  }
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void HttpServer::stop() {
  if (!impl_->thread.joinable()) return;
  if (std::this_thread::get_id() == impl_->thread.get_id())
    throw std::logic_error("admin HTTP server: stop() called from a handler");
  // Closing the acceptor and every connection leaves the io_context without
  // work, so run() returns once the coroutines have unwound.
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->close_everything(); });
  impl_->thread.join();
}

HostPort HttpServer::bound() const {
  std::lock_guard lock(impl_->bound_mu);
  return impl_->bound;
}

}  // namespace pgw::admin
