#pragma once
// Building event sinks from configuration ([[events.sink]]) or a --events
// spec; see docs/sinks.md.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pgwarden/core/config.hpp"
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/observe/sink.hpp"

namespace pgw::exporter {

// "stdout", "file:PATH", "syslog", "syslog:udp://HOST:PORT", "syslog:unix:PATH",
// "loki:URL", "otlp:URL". Throws std::invalid_argument naming the spec and the
// accepted forms.
SinkConfig parse_sink_spec(std::string_view spec);

// The spec form again ("loki:http://..."): names the sink in health and events.
std::string sink_name(const SinkConfig& cfg);

// Queue, batch and flush settings of `cfg`, default backoff.
observe::SinkOptions sink_options(const SinkConfig& cfg);

// The transport alone. Throws std::invalid_argument on a bad type, address
// or URL, std::runtime_error when a file cannot be opened.
std::unique_ptr<observe::Transport> make_transport(const SinkConfig& cfg);

// A sink that announces sink.failing / sink.recovered through `bus`; pass it
// to bus.add_sink(). Throws like make_transport, and std::invalid_argument on
// a queue_size or batch_size below 1.
std::unique_ptr<observe::AsyncSink> make_sink(const SinkConfig& cfg, observe::EventBus& bus);

// A command's [events] section and its --events specs on `bus`: the recent
// ring's capacity, then every sink. Throws like make_sink.
void add_event_sinks(observe::EventBus& bus, const EventsConfig& events,
                     const std::vector<std::string>& specs);

}  // namespace pgw::exporter
