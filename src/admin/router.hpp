#pragma once
// Exact-path routing of admin requests and the JSON errors around handlers.
#include <map>
#include <mutex>
#include <string>

#include "pgwarden/admin/http_server.hpp"

namespace pgw::admin {

class Router {
 public:
  void add(const std::string& method, const std::string& path, Handler h);
  // Any method on a path under `prefix` that no exact route names; the
  // longest prefix wins.
  void add_prefix(const std::string& prefix, Handler h);

  struct Result {
    HttpResponse response;
    std::string allow;  // set with 405: the path's methods, "GET, POST"
  };
  // Exact routes first, then prefixes. 404 for an unknown path, 405 for a known path with another
  // method, 500 with the message when the handler throws.
  Result dispatch(const HttpRequest& req) const;

 private:
  mutable std::mutex mu_;  // routes may be added while the server runs
  std::map<std::string, std::map<std::string, Handler>> routes_;  // path → method → handler
  std::map<std::string, Handler> prefixes_;
};

// {"error": message} with the given status.
HttpResponse json_error(int status, const std::string& message);

}  // namespace pgw::admin
