#pragma once
// What an HTTP exporter (Loki, OTLP) needs: where, static labels, how long to wait.
#include <chrono>
#include <map>
#include <string>

namespace pgw::exporter {

struct HttpSinkOptions {
  std::string url;  // http://HOST[:PORT][/PATH]; a bare "/" path gets the API's default
  std::map<std::string, std::string> labels;
  std::chrono::milliseconds timeout{5'000};  // per delivery attempt
};

}  // namespace pgw::exporter
