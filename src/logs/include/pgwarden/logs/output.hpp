#pragma once
// Renderings of an analysis: terminal summary, JSON report (stable schema,
// docs/logs.md), self-contained HTML with inline SVG, and one JSON event per line.
#include <ostream>
#include <string>

#include "pgwarden/core/json_text.hpp"
#include "pgwarden/logs/analysis.hpp"

namespace pgw::logs {

struct RunInfo {
  double seconds = 0;  // wall time of the analysis
};

void write_summary(std::ostream& os, const Analyzer& a, const RunInfo& info);
void write_json(std::ostream& os, const Analyzer& a, const RunInfo& info);
void write_html(std::ostream& os, const Analyzer& a, const RunInfo& info);
// Appends one event as a JSON object plus '\n' (shared event model field names).
void append_event_json(std::string& out, const Event& e);
using pgw::append_json_string;  // from core/json_text.hpp

}  // namespace pgw::logs
