#pragma once
// Plain HTTP/1.1 requests against 127.0.0.1 for tests of the admin and faults APIs.
#include <optional>
#include <string>

namespace pgw::test {

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string content_type;
  std::string body;
};

HttpReply http_get(int port, const std::string& target, double timeout_s = 10);
// Any method, with a JSON body (Content-Length always sent except on a bare GET).
HttpReply http_request(int port, const std::string& method, const std::string& target,
                       const std::string& body = {}, double timeout_s = 10);

// The value of one sample in a Prometheus text exposition, e.g.
// metric_value(text, "pgwarden_connection_closes_total{side=\"server\",...}");
// nullopt when the exact series is absent.
std::optional<double> metric_value(const std::string& exposition, const std::string& series);

}  // namespace pgw::test
