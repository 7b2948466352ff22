#include "pgwarden/export/sink_factory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "pgwarden/export/http_url.hpp"
#include "pgwarden/export/loki_transport.hpp"
#include "pgwarden/export/otlp_transport.hpp"
#include "pgwarden/export/syslog_transport.hpp"
#include "pgwarden/observe/file_transport.hpp"

namespace pgw::exporter {

namespace {

constexpr const char* kDefaultSyslog = "unix:/dev/log";
constexpr const char* kForms =
    "expected stdout, file:PATH, syslog, syslog:udp://HOST:PORT, syslog:unix:PATH, "
    "loki:http://HOST:PORT[/PATH] or otlp:http://HOST:PORT[/PATH]";

[[noreturn]] void bad_spec(std::string_view spec, std::string_view why) {
  throw std::invalid_argument(fmt::format("event sink \"{}\": {}", spec, why));
}

HttpSinkOptions http_options(const SinkConfig& cfg) {
  return {cfg.target, cfg.labels, cfg.timeout};
}

}  // namespace

SinkConfig parse_sink_spec(std::string_view spec) {
  SinkConfig cfg;
  size_t colon = spec.find(':');
  std::string_view type = spec.substr(0, colon);
  std::string_view rest = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  bool has_rest = colon != std::string_view::npos;
  cfg.type = std::string(type);
  std::string error;
  if (type == "stdout" && !has_rest) return cfg;
  if (type == "file") {
    if (rest.empty()) bad_spec(spec, "file: needs a path (file:PATH)");
    cfg.target = std::string(rest);
    return cfg;
  }
  if (type == "syslog") {
    cfg.target = has_rest ? std::string(rest) : kDefaultSyslog;
    if (!parse_syslog_address(cfg.target, error)) bad_spec(spec, error);
    return cfg;
  }
  if (type == "loki" || type == "otlp") {
    if (rest.empty())
      bad_spec(spec, fmt::format("{}: needs a URL ({}:http://HOST:PORT)", type, type));
    if (!parse_http_url(rest, error)) bad_spec(spec, error);
    cfg.target = std::string(rest);
    return cfg;
  }
  bad_spec(spec, kForms);
}

std::string sink_name(const SinkConfig& cfg) {
  if (cfg.type == "stdout") return "stdout";
  std::string target = cfg.target.empty() && cfg.type == "syslog" ? kDefaultSyslog : cfg.target;
  return cfg.type + ":" + target;
}

observe::SinkOptions sink_options(const SinkConfig& cfg) {
  if (cfg.queue_size < 1 || cfg.batch_size < 1)
    throw std::invalid_argument(
        fmt::format("event sink {}: queue_size and batch_size must be at least 1 (got {} and {})",
                    sink_name(cfg), cfg.queue_size, cfg.batch_size));
  observe::SinkOptions o;
  o.name = sink_name(cfg);
  o.queue_size = static_cast<size_t>(cfg.queue_size);
  o.batch_size = static_cast<size_t>(cfg.batch_size);
  o.flush_interval = cfg.flush_interval;
  return o;
}

std::unique_ptr<observe::Transport> make_transport(const SinkConfig& cfg) {
  if (cfg.type == "stdout") return observe::FileTransport::to_stdout();
  if (cfg.type == "file") {
    if (cfg.target.empty()) throw std::invalid_argument("event sink file: needs a path");
    return observe::FileTransport::to_file(cfg.target);
  }
  if (cfg.type == "syslog") {
    SyslogOptions o;
    if (!cfg.target.empty()) o.address = cfg.target;
    return std::make_unique<SyslogTransport>(o);
  }
  if (cfg.type == "loki") return std::make_unique<LokiTransport>(http_options(cfg));
  if (cfg.type == "otlp") return std::make_unique<OtlpTransport>(http_options(cfg));
  throw std::invalid_argument(
      fmt::format("event sink type \"{}\": expected stdout, file, syslog, loki or otlp", cfg.type));
}

std::unique_ptr<observe::AsyncSink> make_sink(const SinkConfig& cfg, observe::EventBus& bus) {
  auto options = sink_options(cfg);
  return std::make_unique<observe::AsyncSink>(
      std::move(options), make_transport(cfg),
      [&bus](observe::ConnectionEvent e) { bus.publish(e); });
}

void add_event_sinks(observe::EventBus& bus, const EventsConfig& events,
                     const std::vector<std::string>& specs) {
  bus.set_recent_capacity(static_cast<size_t>(std::max(events.recent, 0)));
  for (const auto& sink : events.sinks) bus.add_sink(make_sink(sink, bus));
  for (const auto& spec : specs) bus.add_sink(make_sink(parse_sink_spec(spec), bus));
}

}  // namespace pgw::exporter
