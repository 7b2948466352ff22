#include "pgwarden/export/webhook_transport.hpp"

#include <stdexcept>

#include "pgwarden/export/http_client.hpp"
#include "pgwarden/export/http_url.hpp"

namespace pgw::exporter {

WebhookTransport::WebhookTransport(std::string url, std::chrono::milliseconds timeout,
                                   std::function<void(const std::string&)> on_failure)
    : url_(std::move(url)), timeout_(timeout), on_failure_(std::move(on_failure)) {
  std::string error;
  if (!parse_http_url(url_, error)) throw std::invalid_argument("alert webhook: " + error);
}

bool WebhookTransport::deliver(const std::vector<observe::SerializedEvent>& batch,
                               std::string& error) {
  for (const auto& item : batch) {
    if (!http_post(url_, "application/json", item.json, timeout_, error)) {
      if (on_failure_) on_failure_(error);
      return false;
    }
  }
  return true;
}

}  // namespace pgw::exporter
