#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pgwarden/core/version.hpp"
#include "pgwarden/logs/output.hpp"

namespace pgw::logs {

namespace {
std::vector<int> classes_by_count(const Analyzer& a) {
  std::vector<int> idx;
  for (size_t i = 0; i < a.classes().size(); ++i) {
    if (a.classes()[i].count > 0) idx.push_back(static_cast<int>(i));
  }
  std::stable_sort(idx.begin(), idx.end(), [&](int x, int y) {
    return a.classes()[static_cast<size_t>(x)].count > a.classes()[static_cast<size_t>(y)].count;
  });
  return idx;
}

// Highest count in one bucket, as events per minute.
double peak_per_minute(const Analyzer& a, const ClassStats& cs) {
  uint64_t peak = 0;
  for (const auto& [b, n] : cs.per_bucket) peak = std::max(peak, n);
  return static_cast<double>(peak) * 60.0 / static_cast<double>(a.options().bucket_s);
}

uint64_t failure_total(const Analyzer& a, const std::map<int, uint64_t>& m) {
  uint64_t n = 0;
  for (const auto& [rule, c] : m) {
    if (a.rules().rule(rule).failure) n += c;
  }
  return n;
}

uint64_t total_bytes(const Analyzer& a) {
  uint64_t b = 0;
  for (const auto& f : a.files()) b += f.bytes;
  return b;
}
uint64_t total_lines(const Analyzer& a) {
  uint64_t b = 0;
  for (const auto& f : a.files()) b += f.lines;
  return b;
}

std::string human_ms(double ms) {
  char buf[32];
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  else if (ms < 120000)
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000);
  else if (ms < 7200000)
    std::snprintf(buf, sizeof buf, "%.1f min", ms / 60000);
  else
    std::snprintf(buf, sizeof buf, "%.1f h", ms / 3600000);
  return buf;
}

const char* kBucketLabels[] = {"< 500 ms",     "500 ms - 1 s", "1 s - 30 s",
                               "30 s - 1 min", "1 - 10 min",   "10 - 30 min",
                               "30 min - 1 h", "1 h - 8 h",    ">= 8 h"};

std::string html_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}
}  // namespace

void append_event_json(std::string& out, const Event& e) {
  const Rule& r = *e.r;
  auto field = [&](const char* k, std::string_view v) {
    if (v.empty()) return;
    out += ",\"";
    out += k;
    out += "\":";
    append_json_string(out, v);
  };
  out += "{\"ts\":\"";
  out += format_ts(e.ts_us);
  out += '"';
  if (e.ts_estimated) out += ",\"ts_estimated\":true";
  field("event", r.event);
  field("class", r.cls);
  field("severity", r.severity);
  field("cause", r.cause);
  std::string_view sqlstate =
      !e.rec->sqlstate.empty() ? std::string_view(e.rec->sqlstate) : std::string_view(r.sqlstate);
  if (sqlstate != "00000") field("sqlstate", sqlstate);
  field("source", r.component);
  // side: which end of a connection the event is about, from the event name
  if (r.event.starts_with("client."))
    field("side", "client");
  else if (r.event.starts_with("server.") || r.event.starts_with("pool."))
    field("side", "server");
  field("application_name", e.application_name);
  field("user", e.user);
  field("database", e.database);
  if (!e.host.empty()) {
    field("peer",
          e.port.empty() ? std::string(e.host) : std::string(e.host) + ":" + std::string(e.port));
  }
  if (e.pid > 0) {
    // PostgreSQL logs name backend PIDs; application logs their own process.
    bool backend = r.source == Source::Postgres || r.source == Source::Pgwarden;
    out += backend ? ",\"backend_pid\":" : ",\"pid\":";
    out += std::to_string(e.pid);
  }
  if (e.age_ms >= 0) {
    out += ",\"age_ms\":";
    out += std::to_string(e.age_ms);
  }
  field("errno", e.errno_text);
  field("level", e.rec->level);
  std::string_view msg = e.rec->message;
  if (msg.size() > 500) msg = msg.substr(0, 500);
  field("message", msg);
  field("file", e.file);
  out += ",\"line\":";
  out += std::to_string(e.rec->line_no);
  out += "}\n";
}

void write_summary(std::ostream& os, const Analyzer& a, const RunInfo& info) {
  uint64_t bytes = total_bytes(a);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "pgwarden logs: %zu input(s), %llu lines, %.1f MB in %.2f s (%.0f MB/s)\n",
                a.files().size(), static_cast<unsigned long long>(total_lines(a)),
                static_cast<double>(bytes) / 1e6, info.seconds,
                info.seconds > 0 ? static_cast<double>(bytes) / 1e6 / info.seconds : 0.0);
  os << buf;
  for (const auto& f : a.files()) {
    os << "  " << f.name << ": " << format_name(f.format);
    if (!f.prefix.empty()) os << " (prefix '" << f.prefix << "')";
    if (!f.capture.empty()) os << " behind " << f.capture << " capture times";
    if (f.has_ts) os << ", " << format_ts(f.first_ts) << " .. " << format_ts(f.last_ts);
    os << ", " << f.events << " events";
    if (f.events_inferred_ts)
      os << " (" << f.events_inferred_ts
         << " with an inferred time: no timestamp on the line, placed after the previous timed "
            "line of this file)";
    if (!f.error.empty()) os << "  ERROR: " << f.error;
    os << "\n";
  }
  os << "\nConnection events by class (" << a.events() << " events, " << a.failures()
     << " failures)\n";
  std::snprintf(buf, sizeof buf, "  %-9s %9s %9s  %-40s %s\n", "severity", "count", "peak/min",
                "class", "meaning");
  os << buf;
  for (int i : classes_by_count(a)) {
    const Rule& r = a.rules().rule(i);
    const ClassStats& cs = a.classes()[static_cast<size_t>(i)];
    std::snprintf(buf, sizeof buf, "  %-9s %9llu %9.1f  %-40s %s\n", r.severity.c_str(),
                  static_cast<unsigned long long>(cs.count), peak_per_minute(a, cs), r.cls.c_str(),
                  r.meaning.c_str());
    os << buf;
  }
  for (const char* dim : {"application", "user", "database", "host"}) {
    const auto& m = a.by(dim);
    std::vector<std::pair<uint64_t, std::string>> rows;
    for (const auto& [k, counts] : m) {
      uint64_t n = failure_total(a, counts);
      if (n > 0) rows.emplace_back(n, k);
    }
    if (rows.empty()) continue;
    std::sort(rows.rbegin(), rows.rend());
    os << "\nFailures by " << dim << "\n";
    for (size_t i = 0; i < rows.size() && i < 10; ++i) {
      std::snprintf(buf, sizeof buf, "  %9llu  %s\n",
                    static_cast<unsigned long long>(rows[i].first), rows[i].second.c_str());
      os << buf;
    }
  }
  const auto& s = a.sessions();
  if (s.count > 0) {
    os << "\nSessions: " << s.count << " ended, average "
       << human_ms(s.total_ms / static_cast<double>(s.count)) << "\n";
    for (size_t i = 0; i < s.coarse.size(); ++i) {
      if (s.coarse[i] == 0) continue;
      std::snprintf(buf, sizeof buf, "  %-14s %9llu\n", kBucketLabels[i],
                    static_cast<unsigned long long>(s.coarse[i]));
      os << buf;
    }
    for (const auto& c : a.session_clusters()) {
      std::snprintf(
          buf, sizeof buf, "  CLUSTER: %llu sessions (%.0f%%) lasted %lld-%lld s: suspect %s\n",
          static_cast<unsigned long long>(c.sessions), c.share * 100,
          static_cast<long long>(c.from_s), static_cast<long long>(c.to_s), c.suspect.c_str());
      os << buf;
    }
    for (const auto& [app, st] : a.app_sessions()) {
      for (const auto& c : Analyzer::find_clusters(st)) {
        std::snprintf(buf, sizeof buf,
                      "  CLUSTER in %s: %llu of its %llu sessions lasted %lld-%lld s: suspect %s\n",
                      app.c_str(), static_cast<unsigned long long>(c.sessions),
                      static_cast<unsigned long long>(st.count), static_cast<long long>(c.from_s),
                      static_cast<long long>(c.to_s), c.suspect.c_str());
        os << buf;
      }
    }
  }
  auto incidents = a.incidents();
  os << "\nIncidents: " << incidents.size() << "\n";
  for (size_t i = 0; i < incidents.size(); ++i) {
    const auto& in = incidents[i];
    std::snprintf(buf, sizeof buf, "  #%zu %s .. %s: %llu failures\n", i + 1,
                  format_ts(in.start_us).c_str(), format_ts(in.end_us).c_str(),
                  static_cast<unsigned long long>(in.failures));
    os << buf << "     " << in.verdict << "\n";
    if (!in.steps.empty()) os << "     first: \"" << in.steps.front().example << "\"\n";
  }
  if (!a.unclassified().empty()) {
    os << "\nUnclassified server errors:";
    for (const auto& [lvl, n] : a.unclassified()) os << " " << lvl << "=" << n;
    os << "\n";
  }
  if (a.bad().total() > 0) {
    os << "\nSkipped or suspicious input: " << a.bad().total() << " line(s)\n";
    for (const auto& [reason, n] : a.bad().counts) {
      os << "  " << reason << ": " << n << "\n";
      auto it = a.bad().examples.find(reason);
      if (it != a.bad().examples.end()) {
        for (const auto& ex : it->second) os << "     e.g. " << ex << "\n";
      }
    }
  }
}

static nlohmann::json report_json(const Analyzer& a, const RunInfo& info) {
  using nlohmann::json;
  json j;
  j["schema"] = "pgwarden.logs.report/1";
  j["generated_by"] = std::string("pgwarden ") + pgw::kVersion;
  json inputs = json::array();
  for (const auto& f : a.files()) {
    json fi{{"file", f.name},       {"format", format_name(f.format)},
            {"bytes", f.bytes},     {"lines", f.lines},
            {"records", f.records}, {"events", f.events}};
    if (!f.prefix.empty()) fi["prefix"] = f.prefix;
    if (!f.capture.empty()) fi["capture"] = f.capture;
    fi["events_inferred_ts"] = f.events_inferred_ts;
    if (f.has_ts) {
      fi["first_ts"] = format_ts(f.first_ts);
      fi["last_ts"] = format_ts(f.last_ts);
    }
    if (!f.error.empty()) fi["error"] = f.error;
    inputs.push_back(std::move(fi));
  }
  j["inputs"] = std::move(inputs);
  uint64_t bytes = total_bytes(a);
  j["totals"] = {{"bytes", bytes},           {"lines", total_lines(a)},
                 {"records", a.records()},   {"events", a.events()},
                 {"failures", a.failures()}, {"skipped_lines", a.bad().total()},
                 {"seconds", info.seconds}};
  j["bucket_seconds"] = a.options().bucket_s;
  json classes = json::array();
  for (int i : classes_by_count(a)) {
    const Rule& r = a.rules().rule(i);
    const ClassStats& cs = a.classes()[static_cast<size_t>(i)];
    json series = json::array();
    for (const auto& [b, n] : cs.per_bucket)
      series.push_back({{"ts", format_ts(b * 1000000)}, {"count", n}});
    classes.push_back({{"class", r.cls},
                       {"severity", r.severity},
                       {"failure", r.failure},
                       {"source", r.component},
                       {"event", r.event},
                       {"cause", r.cause},
                       {"sqlstate", r.sqlstate},
                       {"meaning", r.meaning},
                       {"count", cs.count},
                       {"peak_per_minute", peak_per_minute(a, cs)},
                       {"first_ts", format_ts(cs.first_ts)},
                       {"last_ts", format_ts(cs.last_ts)},
                       {"series", std::move(series)}});
  }
  j["classes"] = std::move(classes);
  for (const char* dim : {"application", "user", "database", "host"}) {
    json d = json::object();
    for (const auto& [k, counts] : a.by(dim)) {
      json c = json::object();
      for (const auto& [rule, n] : counts) c[a.rules().rule(rule).cls] = n;
      d[k] = std::move(c);
    }
    j[std::string("by_") + dim] = std::move(d);
  }
  const auto& s = a.sessions();
  json hist = json::array();
  for (size_t i = 0; i < s.coarse.size(); ++i) {
    json b{{"bucket", kBucketLabels[i]}, {"count", s.coarse[i]}};
    if (i < SessionStats::kEdgesMs.size()) b["lt_ms"] = SessionStats::kEdgesMs[i];
    hist.push_back(std::move(b));
  }
  auto clusters_json = [](const std::vector<Cluster>& cs) {
    json out = json::array();
    for (const auto& c : cs) {
      out.push_back({{"from_s", c.from_s},
                     {"to_s", c.to_s},
                     {"sessions", c.sessions},
                     {"share", c.share},
                     {"suspect", c.suspect}});
    }
    return out;
  };
  json by_app = json::object();
  for (const auto& [app, st] : a.app_sessions()) {
    by_app[app] = {{"count", st.count},
                   {"avg_ms", st.count ? st.total_ms / static_cast<double>(st.count) : 0.0},
                   {"clusters", clusters_json(Analyzer::find_clusters(st))}};
  }
  j["sessions"] = {{"count", s.count},
                   {"avg_ms", s.count ? s.total_ms / static_cast<double>(s.count) : 0.0},
                   {"histogram", std::move(hist)},
                   {"clusters", clusters_json(a.session_clusters())},
                   {"by_application", std::move(by_app)}};
  json incidents = json::array();
  for (const auto& in : a.incidents()) {
    json steps = json::array();
    for (const auto& st : in.steps) {
      steps.push_back({{"source", st.component},
                       {"class", st.cls},
                       {"first_ts", format_ts(st.first_ts)},
                       {"offset_ms", (st.first_ts - in.steps.front().first_ts) / 1000},
                       {"count", st.count},
                       {"example", st.example}});
    }
    incidents.push_back({{"start", format_ts(in.start_us)},
                         {"end", format_ts(in.end_us)},
                         {"failures", in.failures},
                         {"first",
                          {{"source", in.steps.front().component},
                           {"class", in.steps.front().cls},
                           {"ts", format_ts(in.steps.front().first_ts)}}},
                         {"steps", std::move(steps)},
                         {"verdict", in.verdict}});
  }
  j["incidents"] = std::move(incidents);
  j["unclassified"] = a.unclassified();
  j["bad_input"] = {
      {"total", a.bad().total()}, {"by_reason", a.bad().counts}, {"examples", a.bad().examples}};
  return j;
}

void write_json(std::ostream& os, const Analyzer& a, const RunInfo& info) {
  os << report_json(a, info).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

namespace {
// A bar chart as inline SVG: values with labels, scaled to the largest.
std::string svg_bars(const std::vector<std::pair<std::string, uint64_t>>& bars, int width,
                     int height, const char* color) {
  std::ostringstream o;
  uint64_t max = 1;
  for (const auto& b : bars) max = std::max(max, b.second);
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height + 20
    << "' role='img'>";
  double w = bars.empty() ? 0 : static_cast<double>(width) / static_cast<double>(bars.size());
  for (size_t i = 0; i < bars.size(); ++i) {
    double h = static_cast<double>(bars[i].second) / static_cast<double>(max) * height;
    o << "<rect x='" << i * w << "' y='" << height - h << "' width='" << std::max(1.0, w - 1)
      << "' height='" << h << "' fill='" << color << "'><title>" << html_escape(bars[i].first)
      << ": " << bars[i].second << "</title></rect>";
  }
  if (!bars.empty()) {
    o << "<text x='0' y='" << height + 15 << "' font-size='11'>" << html_escape(bars.front().first)
      << "</text><text x='" << width << "' y='" << height + 15
      << "' font-size='11' text-anchor='end'>" << html_escape(bars.back().first) << "</text>";
  }
  o << "</svg>";
  return o.str();
}
}  // namespace

void write_html(std::ostream& os, const Analyzer& a, const RunInfo& info) {
  os << "<!doctype html><html><head><meta charset='utf-8'><title>pgwarden logs report</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:"
        "collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}"
        ".critical{color:#a00;font-weight:bold}.error{color:#c33}.warning{color:#b70}"
        "h2{margin-top:1.5em}</style></head><body>";
  os << "<h1>pgwarden logs report</h1><p>" << a.files().size() << " input(s), " << a.events()
     << " events, " << a.failures() << " failures, analysed in " << info.seconds << " s.</p>";
  os << "<ul>";
  for (const auto& f : a.files()) {
    os << "<li>" << html_escape(f.name) << ": " << format_name(f.format);
    if (f.has_ts) os << ", " << format_ts(f.first_ts) << " .. " << format_ts(f.last_ts);
    os << "</li>";
  }
  os << "</ul>";
  // Failures over time (all failure classes summed per bucket).
  std::map<int64_t, uint64_t> fail_series;
  for (size_t i = 0; i < a.classes().size(); ++i) {
    if (!a.rules().rules()[i].failure) continue;
    for (const auto& [b, n] : a.classes()[i].per_bucket) fail_series[b] += n;
  }
  if (!fail_series.empty()) {
    std::vector<std::pair<std::string, uint64_t>> bars;
    int64_t from = fail_series.begin()->first, to = fail_series.rbegin()->first;
    int64_t step = a.options().bucket_s;
    if ((to - from) / step > 600) step = ((to - from) / 600 / step + 1) * step;
    for (int64_t b = from; b <= to; b += step) {
      uint64_t n = 0;
      for (auto it = fail_series.lower_bound(b); it != fail_series.end() && it->first < b + step;
           ++it)
        n += it->second;
      bars.emplace_back(format_ts(b * 1000000), n);
    }
    os << "<h2>Failures over time</h2>" << svg_bars(bars, 1000, 160, "#c33");
  }
  auto incidents = a.incidents();
  os << "<h2>Incidents (" << incidents.size() << ")</h2>";
  if (!incidents.empty()) {
    os << "<table><tr><th>start</th><th>end</th><th>failures</th><th>verdict</th></tr>";
    for (const auto& in : incidents) {
      os << "<tr><td>" << format_ts(in.start_us) << "</td><td>" << format_ts(in.end_us)
         << "</td><td>" << in.failures << "</td><td>" << html_escape(in.verdict) << "</td></tr>";
    }
    os << "</table>";
  }
  os << "<h2>Classes</h2><table><tr><th>severity</th><th>count</th><th>class</th><th>source</th>"
        "<th>meaning</th></tr>";
  for (int i : classes_by_count(a)) {
    const Rule& r = a.rules().rule(i);
    os << "<tr><td class='" << r.severity << "'>" << r.severity << "</td><td>"
       << a.classes()[static_cast<size_t>(i)].count << "</td><td>" << html_escape(r.cls)
       << "</td><td>" << html_escape(r.component) << "</td><td>" << html_escape(r.meaning)
       << "</td></tr>";
  }
  os << "</table>";
  const auto& s = a.sessions();
  if (s.count > 0) {
    std::vector<std::pair<std::string, uint64_t>> bars;
    for (int b = 0; b < 3600; b += 10) {
      uint64_t n = 0;
      for (int k = 0; k < 10; ++k) n += s.fine[static_cast<size_t>(b + k)];
      bars.emplace_back(std::to_string(b) + " s", n);
    }
    os << "<h2>Session durations (" << s.count << ", 0-3600 s in 10 s bins)</h2>"
       << svg_bars(bars, 1000, 140, "#36c");
    for (const auto& c : a.session_clusters()) {
      os << "<p class='warning'>Cluster: " << c.sessions << " sessions lasted " << c.from_s << "-"
         << c.to_s << " s: suspect " << html_escape(c.suspect) << "</p>";
    }
    for (const auto& [app, st] : a.app_sessions()) {
      for (const auto& c : Analyzer::find_clusters(st)) {
        os << "<p class='warning'>Cluster in " << html_escape(app) << ": " << c.sessions
           << " of its " << st.count << " sessions lasted " << c.from_s << "-" << c.to_s
           << " s: suspect " << html_escape(c.suspect) << "</p>";
      }
    }
  }
  for (const char* dim : {"application", "user", "database", "host"}) {
    const auto& m = a.by(dim);
    if (m.empty()) continue;
    os << "<h2>By " << dim << "</h2><table><tr><th>" << dim
       << "</th><th>events</th><th>failures</th></tr>";
    size_t shown = 0;
    for (const auto& [k, counts] : m) {
      if (++shown > 50) break;
      uint64_t total = 0;
      for (const auto& [r, n] : counts) total += n;
      os << "<tr><td>" << html_escape(k) << "</td><td>" << total << "</td><td>"
         << failure_total(a, counts) << "</td></tr>";
    }
    os << "</table>";
  }
  if (a.bad().total() > 0) {
    os << "<h2>Skipped input (" << a.bad().total() << ")</h2><ul>";
    for (const auto& [reason, n] : a.bad().counts) {
      os << "<li>" << html_escape(reason) << ": " << n;
      auto it = a.bad().examples.find(reason);
      if (it != a.bad().examples.end()) {
        for (const auto& ex : it->second) os << "<br><code>" << html_escape(ex) << "</code>";
      }
      os << "</li>";
    }
    os << "</ul>";
  }
  os << "</body></html>\n";
}

}  // namespace pgw::logs
