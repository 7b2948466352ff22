#include "pgwarden/observe/event_metrics.hpp"

#include <map>
#include <memory>
#include <mutex>

namespace pgw::observe {

void count_events_into(Registry& metrics, EventBus& bus) {
  auto& closes = metrics.counter("pgwarden_connection_closes_total",
                                 "Connections ended, by side, who ended them and the cause code "
                                 "(docs/events.md)",
                                 {"side", "initiator", "cause"});
  auto& opened =
      metrics.counter("pgwarden_connections_opened_total", "Connections opened, by side", {"side"});
  auto& events = metrics.counter("pgwarden_events_total", "Events published, by name", {"event"});
  bus.add_listener([&closes, &opened, &events](const ConnectionEvent& e) {
    events.with({e.event}).inc();
    if (e.event == "client.close" || e.event == "server.close")
      closes.with({e.side, e.initiator, e.cause}).inc();
    else if (e.event == "client.open" || e.event == "server.open")
      opened.with({e.side}).inc();
  });
}

void export_sink_health(Registry& metrics, EventBus& bus) {
  auto& up = metrics.gauge("pgwarden_sink_up", "1 if the sink's last delivery succeeded", {"sink"});
  auto& queued =
      metrics.gauge("pgwarden_sink_queue_length", "Events waiting in the sink's queue", {"sink"});
  auto& sent =
      metrics.counter("pgwarden_sink_events_sent_total", "Events the sink delivered", {"sink"});
  auto& dropped = metrics.counter("pgwarden_sink_events_dropped_total",
                                  "Events lost because the sink's queue was full", {"sink"});
  auto& failures =
      metrics.counter("pgwarden_sink_failures_total", "Delivery attempts that failed", {"sink"});
  // Sinks count on their own; counters advance by the difference since the last scrape.
  struct Seen {
    uint64_t sent = 0, dropped = 0, failures = 0;
  };
  struct State {
    std::mutex mu;  // two scrapes may run at once
    std::map<std::string, Seen> seen;
  };
  auto state = std::make_shared<State>();
  metrics.on_collect([&, state] {
    std::lock_guard lock(state->mu);
    for (const auto& h : bus.sink_health()) {
      auto& s = state->seen[h.name];
      up.with({h.name}).set(h.up ? 1 : 0);
      queued.with({h.name}).set(static_cast<double>(h.queued));
      sent.with({h.name}).inc(h.sent - s.sent);
      dropped.with({h.name}).inc(h.dropped - s.dropped);
      failures.with({h.name}).inc(h.failures - s.failures);
      s = {h.sent, h.dropped, h.failures};
    }
  });
}

}  // namespace pgw::observe
