#include "severity.hpp"

namespace pgw::exporter {

Severity severity_of(const observe::ConnectionEvent& e) {
  if (e.event == "sink.failing") return Severity::warning;
  bool close = e.event.ends_with(".close");
  if (close && (e.initiator == "server" || e.initiator == "network")) return Severity::warning;
  return Severity::info;
}

}  // namespace pgw::exporter
