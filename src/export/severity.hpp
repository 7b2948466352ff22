#pragma once
// How serious an event is, for syslog PRI and OTLP severityNumber.
#include "pgwarden/observe/event.hpp"

namespace pgw::exporter {

enum class Severity { info, warning };

// Closes the server or the network caused, and failing sinks, are warnings;
// everything else (client logouts, proxy policy, opens) is information.
Severity severity_of(const observe::ConnectionEvent& e);

}  // namespace pgw::exporter
