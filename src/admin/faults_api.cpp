#include "pgwarden/admin/faults_api.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pgwarden/core/version.hpp"
#include "pgwarden/faults/relay.hpp"
#include "pgwarden/observe/metrics.hpp"

namespace pgw::admin {

namespace {

using faults::FaultError;
using faults::ProxySpec;
using faults::ProxyView;
using faults::ToxicSpec;
using nlohmann::json;

// Toxiproxy's error body carries the status too.
HttpResponse error(int status, const std::string& message) {
  return {status, "application/json", json{{"error", message}, {"status", status}}.dump()};
}

HttpResponse ok(int status, const json& body) {
  return {status, "application/json", body.dump()};
}

HttpResponse no_content() {
  return {204, "application/json", ""};
}

int status_of(FaultError::Kind kind) {
  switch (kind) {
    case FaultError::Kind::proxy_not_found:
    case FaultError::Kind::toxic_not_found:
      return 404;
    case FaultError::Kind::proxy_exists:
    case FaultError::Kind::toxic_exists:
      return 409;
    case FaultError::Kind::bad_request:
      return 400;
    case FaultError::Kind::failed:
      break;
  }
  return 500;
}

// A request body Toxiproxy would refuse to decode.
struct BadBody {
  std::string why;
};

json parse_body(const std::string& body) {
  if (body.empty()) throw BadBody{"EOF"};
  try {
    return json::parse(body);
  } catch (const json::parse_error& e) {
    throw BadBody{e.what()};
  }
}

json toxic_json(const ToxicSpec& t) {
  json attrs = json::object();
  for (const auto& [k, v] : t.attributes) attrs[k] = v;
  return {{"name", t.name},
          {"type", t.type},
          {"stream", faults::to_string(t.stream)},
          {"toxicity", t.toxicity},
          {"attributes", attrs}};
}

json proxy_json(const ProxyView& p) {
  json toxics = json::array();
  for (const auto& t : p.toxics) toxics.push_back(toxic_json(t));
  return {{"name", p.spec.name},
          {"listen", p.spec.listen},
          {"upstream", p.spec.upstream},
          {"enabled", p.spec.enabled},
          {"toxics", toxics}};
}

template <class T>
void read_field(const json& body, const char* key, T& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    throw BadBody{std::string("field \"") + key + "\" has the wrong type"};
  }
}

// Merges a proxy body over `spec` (the defaults, or the proxy as it is).
void read_proxy(const json& body, ProxySpec& spec) {
  if (!body.is_object()) throw BadBody{"expected a JSON object"};
  read_field(body, "name", spec.name);
  read_field(body, "listen", spec.listen);
  read_field(body, "upstream", spec.upstream);
  read_field(body, "enabled", spec.enabled);
}

// The known attributes of `type` from the body (others are ignored, as
// Toxiproxy's decoder ignores them); integers, or numbers with no fraction.
void read_attributes(const json& body, const std::string& type, ToxicSpec& spec) {
  auto it = body.find("attributes");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) throw BadBody{"\"attributes\" must be an object"};
  const auto* names = faults::toxic_attributes(type);
  if (!names) return;
  for (const auto& key : *names) {
    auto a = it->find(key);
    if (a == it->end() || a->is_null()) continue;
    if (a->is_number_integer()) {
      spec.attributes[key] = a->get<int64_t>();
    } else if (a->is_number_float() && std::floor(a->get<double>()) == a->get<double>()) {
      spec.attributes[key] = static_cast<int64_t>(a->get<double>());
    } else {
      throw BadBody{"attribute \"" + key + "\" must be an integer"};
    }
  }
}

void read_toxicity(const json& body, ToxicSpec& spec) {
  auto it = body.find("toxicity");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_number()) throw BadBody{"\"toxicity\" must be a number"};
  spec.toxicity = it->get<double>();
}

HttpResponse create_toxic(faults::Relay& relay, const std::string& proxy, const json& body) {
  if (!body.is_object()) throw BadBody{"expected a JSON object"};
  ToxicSpec spec;
  std::string stream = "downstream";
  read_field(body, "stream", stream);
  auto s = faults::parse_stream(stream);
  if (!s) return error(400, "stream was invalid, can be either upstream or downstream");
  spec.stream = *s;
  read_field(body, "name", spec.name);
  read_field(body, "type", spec.type);
  if (!faults::toxic_attributes(spec.type)) return error(400, "invalid toxic type");
  read_toxicity(body, spec);
  read_attributes(body, spec.type, spec);
  if (auto problem = faults::check_toxic(spec))
    return error(400, "bad request body: " + problem->message);
  return ok(200, toxic_json(relay.add_toxic(proxy, spec)));
}

HttpResponse update_toxic(faults::Relay& relay, const std::string& proxy, const std::string& name,
                          const json& body) {
  if (!body.is_object()) throw BadBody{"expected a JSON object"};
  ToxicSpec spec = relay.toxic(proxy, name);
  read_toxicity(body, spec);
  read_attributes(body, spec.type, spec);
  return ok(200, toxic_json(relay.update_toxic(proxy, spec)));
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  if (!parts.empty() && parts.back().empty()) parts.pop_back();  // a trailing slash
  return parts;
}

HttpResponse method_not_allowed(const HttpRequest& req) {
  return error(405, "method " + req.method + " not allowed on " + req.path);
}

HttpResponse dispatch(faults::Relay& relay, const HttpRequest& req) {
  const auto parts = split_path(req.path);
  const std::string& m = req.method;
  const bool update = m == "POST" || m == "PATCH";
  if (parts.size() == 1 && parts[0] == "version") {
    if (m != "GET") return method_not_allowed(req);
    return {200, "application/json;charset=utf-8",
            json{{"version", std::string(kVersion)}}.dump() + "\n"};
  }
  if (parts.size() == 1 && parts[0] == "reset") {
    if (m != "POST") return method_not_allowed(req);
    relay.reset();
    return no_content();
  }
  if (parts.size() == 1 && parts[0] == "populate") {
    if (m != "POST") return method_not_allowed(req);
    json body = parse_body(req.body);
    if (body.is_object() && body.contains("proxies")) body = body["proxies"];
    if (!body.is_array()) throw BadBody{"expected a JSON array of proxies"};
    std::vector<ProxySpec> specs;
    for (const auto& item : body) {
      ProxySpec spec;
      read_proxy(item, spec);
      specs.push_back(spec);
    }
    // Toxiproxy creates the proxies before the first bad one and reports
    // them with the error.
    json done = json::array();
    for (const auto& spec : specs) {
      try {
        if (spec.name.empty())
          throw FaultError(FaultError::Kind::bad_request, "missing required field: name");
        if (spec.upstream.empty())
          throw FaultError(FaultError::Kind::bad_request, "missing required field: upstream");
        for (const auto& p : relay.populate({spec})) done.push_back(proxy_json(p));
      } catch (const FaultError& e) {
        int status = status_of(e.kind());
        return ok(status, json{{"error", e.what()}, {"status", status}, {"proxies", done}});
      }
    }
    return ok(201, json{{"proxies", done}});
  }
  if (parts.empty() || parts[0] != "proxies") return error(404, "no such path: " + req.path);
  if (parts.size() == 1) {
    if (m == "GET") {
      json out = json::object();
      for (const auto& p : relay.proxies()) out[p.spec.name] = proxy_json(p);
      return ok(200, out);
    }
    if (m != "POST") return method_not_allowed(req);
    ProxySpec spec;
    read_proxy(parse_body(req.body), spec);
    if (spec.name.empty()) return error(400, "missing required field: name");
    if (spec.upstream.empty()) return error(400, "missing required field: upstream");
    return ok(201, proxy_json(relay.create(spec)));
  }
  const std::string& name = parts[1];
  if (parts.size() == 2) {
    if (m == "GET") return ok(200, proxy_json(relay.proxy(name)));
    if (m == "DELETE") {
      relay.remove(name);
      return no_content();
    }
    if (!update) return method_not_allowed(req);
    ProxySpec spec = relay.proxy(name).spec;
    read_proxy(parse_body(req.body), spec);
    return ok(200, proxy_json(relay.update(name, spec)));
  }
  if (parts[2] != "toxics" || parts.size() > 4) return error(404, "no such path: " + req.path);
  if (parts.size() == 3) {
    if (m == "GET") {
      json out = json::array();
      for (const auto& t : relay.proxy(name).toxics) out.push_back(toxic_json(t));
      return ok(200, out);
    }
    if (m != "POST") return method_not_allowed(req);
    relay.proxy(name);  // 404 before the body is read, as Toxiproxy does
    return create_toxic(relay, name, parse_body(req.body));
  }
  const std::string& toxic = parts[3];
  if (m == "GET") return ok(200, toxic_json(relay.toxic(name, toxic)));
  if (m == "DELETE") {
    relay.remove_toxic(name, toxic);
    return no_content();
  }
  if (!update) return method_not_allowed(req);
  relay.toxic(name, toxic);
  return update_toxic(relay, name, toxic, parse_body(req.body));
}

}  // namespace

HttpResponse faults_api(faults::Relay& relay, const HttpRequest& req) {
  try {
    return dispatch(relay, req);
  } catch (const BadBody& b) {
    return error(400, "bad request body: " + b.why);
  } catch (const FaultError& e) {
    return error(status_of(e.kind()), e.what());
  }
}

void install_faults_api(HttpServer& server, faults::Relay& relay, observe::Registry& metrics) {
  auto api = [&relay](const HttpRequest& req) { return faults_api(relay, req); };
  server.route("GET", "/proxies", api);
  server.route("POST", "/proxies", api);
  server.route("POST", "/reset", api);
  server.route("POST", "/populate", api);
  server.route("GET", "/version", api);
  server.route_prefix("/proxies/", api);
  server.route("GET", "/metrics", [&metrics](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition()};
  });
}

}  // namespace pgw::admin
