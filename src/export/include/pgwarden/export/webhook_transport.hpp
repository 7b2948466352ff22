#pragma once
// An alert webhook: each queued item's JSON is POSTed as its own request
// (Slack-compatible body built by the caller). Used with an AsyncSink of
// batch size 1, so a retry never re-sends a notice the endpoint accepted.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "pgwarden/observe/sink.hpp"

namespace pgw::exporter {

class WebhookTransport : public observe::Transport {
 public:
  // `on_failure` is called (from the sink thread) with the error of each
  // failed attempt. Throws std::invalid_argument on a bad URL.
  WebhookTransport(std::string url, std::chrono::milliseconds timeout,
                   std::function<void(const std::string&)> on_failure = {});
  bool deliver(const std::vector<observe::SerializedEvent>& batch, std::string& error) override;

 private:
  std::string url_;
  std::chrono::milliseconds timeout_;
  std::function<void(const std::string&)> on_failure_;
};

}  // namespace pgw::exporter
