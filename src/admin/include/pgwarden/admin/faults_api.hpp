#pragma once
// The Toxiproxy-compatible HTTP API of `pgwarden faults` (docs/faults.md):
// /proxies, /proxies/{proxy}, /proxies/{proxy}/toxics[/{toxic}], /reset,
// /populate and /version with Toxiproxy's JSON, defaults, status codes and
// error bodies ({"error": ..., "status": N}), and /metrics.
#include "pgwarden/admin/http_server.hpp"

namespace pgw::faults {
class Relay;
}
namespace pgw::observe {
class Registry;
}

namespace pgw::admin {

// Answers one request to the API (every path but /metrics): what the routes
// installed below call, and what unit tests drive without a socket.
HttpResponse faults_api(faults::Relay& relay, const HttpRequest& req);

void install_faults_api(HttpServer& server, faults::Relay& relay, observe::Registry& metrics);

}  // namespace pgw::admin
