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

void Router::add_prefix(const std::string& prefix, Handler h) {
  std::lock_guard lock(mu_);
  prefixes_[prefix] = std::move(h);
}

Router::Result Router::dispatch(const HttpRequest& req) const {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    auto path = routes_.find(req.path);
    if (path == routes_.end()) {
      // The map is ordered, so the last prefix that matches is the longest.
      for (auto it = prefixes_.rbegin(); it != prefixes_.rend(); ++it) {
        if (req.path.starts_with(it->first)) {
          handler = it->second;
          break;
        }
      }
      if (!handler) return {json_error(404, "no such path: " + req.path), {}};
    }
    if (handler) {
      // a prefix route: called below
    } else if (auto method = path->second.find(req.method); method == path->second.end()) {
      std::string allow;
      for (const auto& [name, h] : path->second) allow += (allow.empty() ? "" : ", ") + name;
      return {json_error(405, "method " + req.method + " not allowed on " + req.path), allow};
    } else {
      handler = method->second;  // called unlocked: a handler may add routes
    }
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
