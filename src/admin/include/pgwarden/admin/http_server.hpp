#pragma once
// A small HTTP/1.1 server (Boost.Beast) for the admin listener: /metrics and
// the JSON API. It runs on its own thread and io_context so a slow scraper
// never competes with the proxy's data plane. Handlers are plain functions;
// what they serve is decided in api.cpp.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "pgwarden/core/config.hpp"

namespace pgw::admin {

struct HttpRequest {
  std::string method;                        // GET, POST, ...
  std::string path;                          // "/api/drops" (no query string), percent-decoded
  std::map<std::string, std::string> query;  // ?cause=server_fatal&since=... (decoded)
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  explicit HttpServer(HostPort listen);
  ~HttpServer();  // stops
  // Exact-path routes. Unknown path: 404 JSON {"error": ...}; known path with
  // another method: 405 with Allow. A handler that throws gives 500 with the
  // exception's message; the server keeps serving.
  void route(const std::string& method, const std::string& path, Handler h);
  // Every method on every path that starts with `prefix` and has no exact
  // route (REST paths with names in them: "/proxies/"). The handler answers
  // 404 and 405 itself.
  void route_prefix(const std::string& prefix, Handler h);
  // Binds (throws std::runtime_error naming the address) and starts the thread.
  void start();
  void stop();
  HostPort bound() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgw::admin
