#pragma once
// OpenTelemetry logs over OTLP/HTTP with the JSON encoding (POST /v1/logs):
// one resourceLogs whose resource carries service.name=pgwarden and the
// configured labels, one scopeLogs (scope "pgwarden"), one logRecord per
// event with the JSON line as body and the event's identifying fields as
// attributes.
#include <string>
#include <vector>

#include "pgwarden/export/http_sink_options.hpp"
#include "pgwarden/observe/sink.hpp"

namespace pgw::exporter {

class OtlpTransport : public observe::Transport {
 public:
  explicit OtlpTransport(HttpSinkOptions opts);  // throws std::invalid_argument on a bad URL
  bool deliver(const std::vector<observe::SerializedEvent>& batch, std::string& error) override;
  // The request body for `batch`; `observed` stamps observedTimeUnixNano.
  std::string payload(const std::vector<observe::SerializedEvent>& batch,
                      observe::SystemClock::time_point observed) const;
  const std::string& url() const { return url_; }

 private:
  HttpSinkOptions opts_;
  std::string url_;
};

}  // namespace pgw::exporter
