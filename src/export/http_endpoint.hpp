#pragma once
// The URL an HTTP exporter posts to: validated, with the API's default path
// when the configured URL names only the server.
#include <chrono>
#include <string>
#include <string_view>

namespace pgw::exporter {

// Throws std::invalid_argument naming `what` ("loki", "otlp") on a bad URL.
std::string endpoint_url(std::string_view what, const std::string& url,
                         std::string_view default_path);

// Nanoseconds since the Unix epoch as a decimal string (Loki and OTLP JSON).
std::string unix_nanos(std::chrono::system_clock::time_point tp);

}  // namespace pgw::exporter
