#include "router.hpp"

#include <exception>
#include <nlohmann/json.hpp>

namespace pgw::admin {

HttpResponse json_error(int status, const std::string& message) {
  return {status, "application/json", nlohmann::json{{"error", message}}.dump()};
}

void Router::add(const std::string& method, const std::string& path, Handler h) {
  std::lock_guard lock(mu_);
  routes_[path][method] = std::move(h);
}

Router::Result Router::dispatch(const HttpRequest& req) const {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    auto path = routes_.find(req.path);
    if (path == routes_.end()) return {json_error(404, "no such path: " + req.path), {}};
    auto method = path->second.find(req.method);
    if (method == path->second.end()) {
      std::string allow;
      for (const auto& [name, h] : path->second) allow += (allow.empty() ? "" : ", ") + name;
      return {json_error(405, "method " + req.method + " not allowed on " + req.path), allow};
    }
    handler = method->second;  // called unlocked: a handler may add routes
  }
  try {
    return {handler(req), {}};
  } catch (const std::exception& e) {
    return {json_error(500, e.what()), {}};
  } catch (...) {
    return {json_error(500, "unknown error"), {}};
  }
}

}  // namespace pgw::admin
