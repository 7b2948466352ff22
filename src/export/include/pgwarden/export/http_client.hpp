#pragma once
// One HTTP/1.1 POST with a deadline, for the exporters (Loki, OTLP,
// webhooks). Plain http:// only; blocking, so call it from a sink thread.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgw::exporter {

// True only for a 2xx answer. Otherwise `error` names the URL and what failed:
// the connection (refused, unresolvable), the timeout and during which step,
// or the HTTP status with the first 200 bytes of the body. `timeout` bounds
// connect, send and receive together (name resolution excepted).
bool http_post(const std::string& url, std::string_view content_type, std::string_view body,
               std::chrono::milliseconds timeout, std::string& error,
               const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace pgw::exporter
