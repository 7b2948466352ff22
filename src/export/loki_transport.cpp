#include "pgwarden/export/loki_transport.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "http_endpoint.hpp"
#include "pgwarden/export/http_client.hpp"

namespace pgw::exporter {

LokiTransport::LokiTransport(HttpSinkOptions opts)
    : opts_(std::move(opts)), url_(endpoint_url("loki", opts_.url, "/loki/api/v1/push")) {}

std::string LokiTransport::payload(const std::vector<observe::SerializedEvent>& batch) const {
  using Labels = std::map<std::string, std::string>;
  std::vector<std::pair<Labels, nlohmann::json>> streams;
  for (auto& ev : batch) {
    Labels labels = opts_.labels;
    labels["event"] = ev.event.event;
    if (!ev.event.side.empty()) labels["side"] = ev.event.side;
    auto it =
        std::find_if(streams.begin(), streams.end(), [&](auto& s) { return s.first == labels; });
    if (it == streams.end()) {
      streams.emplace_back(std::move(labels), nlohmann::json::array());
      it = streams.end() - 1;
    }
    it->second.push_back(nlohmann::json::array({unix_nanos(ev.event.ts), ev.json}));
  }
  nlohmann::json body;
  body["streams"] = nlohmann::json::array();
  for (auto& [labels, values] : streams)
    body["streams"].push_back({{"stream", labels}, {"values", std::move(values)}});
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool LokiTransport::deliver(const std::vector<observe::SerializedEvent>& batch,
                            std::string& error) {
  return http_post(url_, "application/json", payload(batch), opts_.timeout, error);
}

}  // namespace pgw::exporter
