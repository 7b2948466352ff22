#pragma once
// Grafana Loki's push API (POST /loki/api/v1/push, JSON):
//   {"streams":[{"stream":{labels},"values":[["<unix ns>","<json line>"],...]}]}
// One stream per distinct label set: the configured static labels plus the
// low-cardinality `event` and `side` (never conn_id or other per-connection
// values, which would explode Loki's index).
#include <string>
#include <vector>

#include "pgwarden/export/http_sink_options.hpp"
#include "pgwarden/observe/sink.hpp"

namespace pgw::exporter {

class LokiTransport : public observe::Transport {
 public:
  explicit LokiTransport(HttpSinkOptions opts);  // throws std::invalid_argument on a bad URL
  bool deliver(const std::vector<observe::SerializedEvent>& batch, std::string& error) override;
  // The request body for `batch`; streams in order of first appearance.
  std::string payload(const std::vector<observe::SerializedEvent>& batch) const;
  const std::string& url() const { return url_; }

 private:
  HttpSinkOptions opts_;
  std::string url_;
};

}  // namespace pgw::exporter
