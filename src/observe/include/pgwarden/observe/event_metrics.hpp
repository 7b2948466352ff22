#pragma once
// Counters derived from the event stream: closes by (side, initiator, cause),
// opens by side, and every event by name. Registered as a bus listener so
// each event is counted exactly once, as it is published.
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/observe/metrics.hpp"

namespace pgw::observe {

void count_events_into(Registry& metrics, EventBus& bus);
// pgwarden_sink_* from each sink's health, refreshed at every scrape.
void export_sink_health(Registry& metrics, EventBus& bus);

}  // namespace pgw::observe
