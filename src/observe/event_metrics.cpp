#include "pgwarden/observe/event_metrics.hpp"

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

}  // namespace pgw::observe
