#include "pgwarden/export/otlp_transport.hpp"

#include <nlohmann/json.hpp>

#include "http_endpoint.hpp"
#include "pgwarden/export/http_client.hpp"
#include "severity.hpp"

namespace pgw::exporter {

namespace {

using nlohmann::json;

json string_attr(const std::string& key, const std::string& value) {
  return {{"key", key}, {"value", {{"stringValue", value}}}};
}

// OTLP JSON carries 64-bit integers as decimal strings.
json int_attr(const std::string& key, int64_t value) {
  return {{"key", key}, {"value", {{"intValue", std::to_string(value)}}}};
}

json attributes(const observe::ConnectionEvent& e) {
  json out = json::array();
  auto str = [&](const char* key, const std::string& v) {
    if (!v.empty()) out.push_back(string_attr(key, v));
  };
  str("event", e.event);
  if (e.conn_id) out.push_back(int_attr("conn_id", static_cast<int64_t>(e.conn_id)));
  str("side", e.side);
  str("initiator", e.initiator);
  str("cause", e.cause);
  str("sqlstate", e.sqlstate);
  str("database", e.database);
  str("user", e.user);
  str("application_name", e.application_name);
  str("pool", e.pool);
  str("peer", e.peer);
  str("backend", e.backend);
  if (e.backend_pid > 0) out.push_back(int_attr("backend_pid", e.backend_pid));
  str("client_impact", e.client_impact);
  str("sink", e.sink);
  if (e.count >= 0) out.push_back(int_attr("count", e.count));
  return out;
}

}  // namespace

OtlpTransport::OtlpTransport(HttpSinkOptions opts)
    : opts_(std::move(opts)), url_(endpoint_url("otlp", opts_.url, "/v1/logs")) {}

std::string OtlpTransport::payload(const std::vector<observe::SerializedEvent>& batch,
                                   observe::SystemClock::time_point observed) const {
  json resource_attrs = json::array({string_attr("service.name", "pgwarden")});
  for (auto& [k, v] : opts_.labels)
    if (k != "service.name") resource_attrs.push_back(string_attr(k, v));
  std::string observed_ns = unix_nanos(observed);
  json records = json::array();
  for (auto& ev : batch) {
    bool warning = severity_of(ev.event) == Severity::warning;
    records.push_back({{"timeUnixNano", unix_nanos(ev.event.ts)},
                       {"observedTimeUnixNano", observed_ns},
                       {"severityNumber", warning ? 13 : 9},  // WARN : INFO
                       {"severityText", warning ? "WARN" : "INFO"},
                       {"body", {{"stringValue", ev.json}}},
                       {"attributes", attributes(ev.event)}});
  }
  json body = {
      {"resourceLogs", json::array({{{"resource", {{"attributes", resource_attrs}}},
                                     {"scopeLogs", json::array({{{"scope", {{"name", "pgwarden"}}},
                                                                 {"logRecords", records}}})}}})}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool OtlpTransport::deliver(const std::vector<observe::SerializedEvent>& batch,
                            std::string& error) {
  return http_post(url_, "application/json", payload(batch, observe::SystemClock::now()),
                   opts_.timeout, error);
}

}  // namespace pgw::exporter
