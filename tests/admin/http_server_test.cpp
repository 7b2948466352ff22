#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "pgwarden/admin/http_server.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using pgw::HostPort;
using pgw::admin::HttpRequest;
using pgw::admin::HttpResponse;
using pgw::admin::HttpServer;

namespace {

using Response = http::response<http::string_body>;

// One client connection; requests keep it alive unless told otherwise.
class Client {
 public:
  explicit Client(uint16_t port) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  Response request(http::verb method, const std::string& target, const std::string& body = {},
                   bool keep_alive = true) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    return read();
  }

  Response get(const std::string& target) { return request(http::verb::get, target); }

  void send_raw(const std::string& bytes) { asio::write(stream_, asio::buffer(bytes)); }

  Response read() {
    Response res;
    http::read(stream_, buffer_, res);
    return res;
  }

  // True when the server has closed the connection (EOF on the next read).
  bool closed_by_server() {
    Response res;
    beast::error_code ec;
    http::read(stream_, buffer_, res, ec);
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset;
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.route("GET", "/hello", [](const HttpRequest&) {
      return HttpResponse{200, "text/plain", "hello"};
    });
    auto echo = [](const HttpRequest& r) {
      json query = json::object();
      for (const auto& [k, v] : r.query) query[k] = v;
      return HttpResponse{200, "application/json",
                          json{{"method", r.method},
                               {"path", r.path},
                               {"query", query},
                               {"body_size", r.body.size()}}
                              .dump()};
    };
    server_.route("GET", "/echo", echo);
    server_.route("POST", "/echo", echo);
    server_.route("GET", "/with space", echo);
    server_.route_prefix("/things/", echo);
    server_.route_prefix("/things/deep/", [](const HttpRequest&) {
      return HttpResponse{204, "application/json", ""};
    });
    server_.route("GET", "/things/exact", [](const HttpRequest&) {
      return HttpResponse{200, "text/plain", "exact"};
    });
    server_.route("GET", "/boom",
                  [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaboom"); });
    server_.start();
    port_ = server_.bound().port;
    ASSERT_NE(port_, 0);
  }

  HttpServer server_{HostPort{"127.0.0.1", 0}};
  uint16_t port_ = 0;
};

}  // namespace

TEST_F(HttpServerTest, ServesARoute) {
  Client c(port_);
  Response res = c.get("/hello");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "hello");
  EXPECT_EQ(res[http::field::content_type], "text/plain");
  EXPECT_EQ(server_.bound().host, "127.0.0.1");
}

TEST_F(HttpServerTest, PrefixRoutesTakeEveryMethodUnderThePrefixExactRoutesWin) {
  Client c(port_);
  Response res = c.request(http::verb::delete_, "/things/a/b");
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(json::parse(res.body())["method"], "DELETE");
  EXPECT_EQ(json::parse(res.body())["path"], "/things/a/b");
  res = c.request(http::verb::patch, "/things/x", "{}");
  EXPECT_EQ(json::parse(res.body())["method"], "PATCH");
  // The longest prefix wins, and a 204 carries no body.
  res = c.request(http::verb::post, "/things/deep/1");
  EXPECT_EQ(res.result_int(), 204);
  EXPECT_EQ(res.body(), "");
  res = c.get("/things/exact");
  EXPECT_EQ(res.body(), "exact");
  // Not under the prefix (no slash): unknown.
  EXPECT_EQ(c.get("/thingsX").result_int(), 404);
  EXPECT_EQ(c.get("/things").result_int(), 404);
}

TEST_F(HttpServerTest, DecodesPathAndQuery) {
  Client c(port_);
  Response res = c.get("/echo?cause=server_fatal&since=2026-11-27T00%3A00%3A00Z&flag&q=a+b%2Bc&&");
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(json::parse(res.body()), (json{{"method", "GET"},
                                           {"path", "/echo"},
                                           {"query",
                                            {{"cause", "server_fatal"},
                                             {"since", "2026-11-27T00:00:00Z"},
                                             {"flag", ""},
                                             {"q", "a b+c"}}},
                                           {"body_size", 0}}));
  res = c.get("/with%20space?x=%E2%9C%93");
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(json::parse(res.body())["path"], "/with space");
  EXPECT_EQ(json::parse(res.body())["query"]["x"], "\u2713");
}

TEST_F(HttpServerTest, UnknownPathIs404Json) {
  Client c(port_);
  Response res = c.get("/nope?x=1");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(json::parse(res.body()), (json{{"error", "no such path: /nope"}}));
}

TEST_F(HttpServerTest, OtherMethodIs405WithAllow) {
  Client c(port_);
  Response res = c.request(http::verb::post, "/hello", "x");
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[http::field::allow], "GET");
  EXPECT_EQ(json::parse(res.body()), (json{{"error", "method POST not allowed on /hello"}}));
  res = c.request(http::verb::delete_, "/echo");
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[http::field::allow], "GET, POST");
}

TEST_F(HttpServerTest, ThrowingHandlerIs500AndServingGoesOn) {
  Client c(port_);
  Response res = c.get("/boom");
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_EQ(json::parse(res.body()), (json{{"error", "kaboom"}}));
  EXPECT_EQ(c.get("/hello").body(), "hello");  // same connection
  Client other(port_);
  EXPECT_EQ(other.get("/hello").result_int(), 200);
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  Client c(port_);
  Response first = c.get("/hello");
  EXPECT_EQ(first.result_int(), 200);
  EXPECT_TRUE(first.keep_alive());
  Response second = c.request(http::verb::post, "/echo", "abc");
  EXPECT_EQ(second.result_int(), 200);
  EXPECT_EQ(json::parse(second.body())["body_size"], 3);
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  Client c(port_);
  Response res = c.request(http::verb::get, "/hello", "", false);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(HttpServerTest, MalformedRequestIs400AndOthersAreUnaffected) {
  Client good(port_);
  EXPECT_EQ(good.get("/hello").result_int(), 200);
  Client bad(port_);
  bad.send_raw("NOT A REQUEST\r\n\r\n");
  Response res = bad.read();
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_TRUE(json::parse(res.body()).contains("error"));
  EXPECT_TRUE(bad.closed_by_server());
  EXPECT_EQ(good.get("/hello").result_int(), 200);
}

TEST_F(HttpServerTest, BodyOverOneMebibyteIs413) {
  Client c(port_);
  // Only the header: the server must refuse on Content-Length alone.
  c.send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n");
  Response res = c.read();
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_EQ(json::parse(res.body()), (json{{"error", "request body exceeds 1048576 bytes"}}));
  EXPECT_TRUE(c.closed_by_server());

  Client at_limit(port_);
  res = at_limit.request(http::verb::post, "/echo", std::string(1 << 20, 'x'));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(json::parse(res.body())["body_size"], 1 << 20);
}

TEST_F(HttpServerTest, BindingABusyPortNamesTheAddress) {
  HttpServer second(HostPort{"127.0.0.1", port_});
  try {
    second.start();
    FAIL() << "start() on a busy port succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port_)), std::string::npos)
        << e.what();
  }
}

TEST_F(HttpServerTest, StopClosesConnectionsAndThePort) {
  Client idle(port_);
  EXPECT_EQ(idle.get("/hello").result_int(), 200);
  server_.stop();  // returns although a keep-alive connection is open
  EXPECT_TRUE(idle.closed_by_server());
  asio::io_context ioc;
  tcp::socket s(ioc);
  beast::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
  server_.stop();  // a second stop is harmless
}
