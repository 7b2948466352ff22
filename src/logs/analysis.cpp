#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "pgwarden/logs/analysis.hpp"

namespace pgw::logs {

namespace {
const DimMap kEmpty;
constexpr const char* kDims[] = {"application", "user", "database", "host"};

struct KnownCut {
  int seconds;
  const char* what;
};
// Fixed idle cuts of common middleboxes; sessions ending just past one of them
// are the signature of a silent idle drop.
constexpr KnownCut kCuts[] = {
    {350, "AWS NAT Gateway / NLB / Network Firewall idle timeout (350 s)"},
    {240, "Azure Load Balancer / NAT Gateway idle timeout (4 min)"},
    {1200, "GCP Cloud NAT established-TCP idle timeout (1200 s)"},
    {60, "AWS ALB / Classic ELB idle timeout (60 s)"},
    {300, "Aurora tcp_keepalives_idle (300 s) or a 5 min idle cut"},
    {600, "PgBouncer server_idle_timeout (600 s) or a 10 min idle cut"},
    {1800, "a 30 min idle cut (RDS Proxy IdleClientTimeout, PgBouncer tcp keepalive default)"},
    {3600, "a 1 h lifetime (PgBouncer server_lifetime)"},
};
}  // namespace

Analyzer::Analyzer(const RulePack& rules, AnalyzerOptions opts)
    : rules_(rules), opts_(opts), classes_(rules.rules().size()) {}

uint32_t Analyzer::begin_file(const std::string& name, Format f, int64_t fallback_ts) {
  FileInfo fi;
  fi.name = name;
  fi.format = f;
  files_.push_back(std::move(fi));
  last_ts_.push_back(fallback_ts);
  on_arrival_.push_back(false);
  return static_cast<uint32_t>(files_.size() - 1);
}

const DimMap& Analyzer::by(const std::string& dim) const {
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (dim == kDims[i]) return dims_[i];
  }
  return kEmpty;
}

void Analyzer::count_dim(size_t dim, std::string_view key, int rule) {
  if (key.empty()) return;
  auto& m = dims_[dim];
  auto it = m.find(key);
  if (it == m.end()) {
    if (m.size() >= opts_.max_keys) {
      ++m["(other)"][rule];
      return;
    }
    it = m.emplace(std::string(key), std::map<int, uint64_t>{}).first;
  }
  ++it->second[rule];
}

void Analyzer::add(Record& r) {
  ++records_;
  FileInfo& fi = files_[r.file_index];
  ++fi.records;
  Event ev;
  if (r.has_ts) {
    ev.ts_us = r.ts_us;
    last_ts_[r.file_index] = r.ts_us;
  } else if (on_arrival_[r.file_index]) {
    // A live stream: the line's arrival is the best time it has (kept
    // increasing so equal arrivals keep their order).
    const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    last_ts_[r.file_index] = std::max(now, last_ts_[r.file_index] + 1);
    ev.ts_us = last_ts_[r.file_index];
    ev.ts_estimated = true;
  } else {
    ev.ts_us = ++last_ts_[r.file_index];  // file order after the last known time
    ev.ts_estimated = true;
  }
  if (!fi.has_ts) {
    fi.first_ts = fi.last_ts = ev.ts_us;
    fi.has_ts = true;
  }
  fi.first_ts = std::min(fi.first_ts, ev.ts_us);
  fi.last_ts = std::max(fi.last_ts, ev.ts_us);

  Source src = source_of(source_kind(r.format));
  int idx = rules_.classify(r, src, &caps_);
  if (idx < 0) {
    if (src == Source::Postgres && (r.level == "ERROR" || r.level == "WARNING"))
      ++unclassified_[r.level];
    return;
  }
  const Rule& rule = rules_.rule(idx);
  ev.rule = idx;
  ev.r = &rule;
  ev.rec = &r;
  ev.file = fi.name;
  ev.user = r.user;
  ev.database = r.database;
  ev.application_name = r.application_name;
  ev.host = r.host;
  ev.port = r.port;
  ev.pid = r.pid;
  for (auto& [k, v] : caps_) {
    if (k == "user") {
      if (ev.user.empty()) ev.user = v;
    } else if (k == "database") {
      if (ev.database.empty()) ev.database = v;
    } else if (k == "app") {
      if (ev.application_name.empty()) ev.application_name = v;
    } else if (k == "host") {
      if (ev.host.empty()) ev.host = v;
    } else if (k == "port") {
      if (ev.port.empty()) ev.port = v;
    } else if (k == "pid") {
      ev.pid = std::strtoll(v.c_str(), nullptr, 10);  // the process the line is about
    } else if (k == "errno") {
      ev.errno_text = v;
    } else if (k == "session_time") {
      if (auto ms = parse_session_time(v)) ev.age_ms = *ms;
    }
  }
  // PID join: lines of a backend inherit what its connection lines said.
  // (ev's fields may point into the joined entry: it is erased at the end.)
  auto ended = by_pid_.end();
  if (src == Source::Postgres && ev.pid > 0) {
    if (rule.session == SessionMark::Start) {
      if (by_pid_.size() > 1'000'000) by_pid_.clear();  // bounded memory
      SessionInfo& s = by_pid_[ev.pid];
      s = SessionInfo{};
      s.host = ev.host;
      s.port = ev.port;
    } else {
      auto it = by_pid_.find(ev.pid);
      if (rule.session == SessionMark::Authorized) {
        if (it == by_pid_.end()) it = by_pid_.emplace(ev.pid, SessionInfo{}).first;
        SessionInfo& s = it->second;
        if (!ev.user.empty()) s.user = ev.user;
        if (!ev.database.empty()) s.database = ev.database;
        if (!ev.application_name.empty()) s.app = ev.application_name;
        if (ev.host.empty()) ev.host = s.host;
        if (ev.port.empty()) ev.port = s.port;
      } else if (it != by_pid_.end()) {
        const SessionInfo& s = it->second;
        if (ev.user.empty()) ev.user = s.user;
        if (ev.database.empty()) ev.database = s.database;
        if (ev.application_name.empty()) ev.application_name = s.app;
        if (ev.host.empty()) ev.host = s.host;
        if (ev.port.empty()) ev.port = s.port;
        if (rule.session == SessionMark::End) ended = it;
      }
    }
  }
  if (ev.host == "[local]") ev.port = {};

  ++events_;
  ++fi.events;
  if (ev.ts_estimated) ++fi.events_inferred_ts;
  ClassStats& cs = classes_[static_cast<size_t>(idx)];
  ++cs.count;
  cs.first_ts = std::min(cs.first_ts, ev.ts_us);
  cs.last_ts = std::max(cs.last_ts, ev.ts_us);
  int64_t sec = ev.ts_us >= 0 ? ev.ts_us / 1000000 : (ev.ts_us - 999999) / 1000000;
  int64_t bucket = sec - ((sec % opts_.bucket_s) + opts_.bucket_s) % opts_.bucket_s;
  ++cs.per_bucket[bucket];
  if (rule.session != SessionMark::Start) {
    // receipt lines carry no identity yet; count the rest by who they concern
    count_dim(0, ev.application_name, idx);
    count_dim(1, ev.user, idx);
    count_dim(2, ev.database, idx);
    count_dim(3, ev.host, idx);
  }
  if (ev.age_ms >= 0) {
    sessions_.add(ev.age_ms);
    if (!ev.application_name.empty()) {
      auto it = app_sessions_.find(ev.application_name);
      if (it == app_sessions_.end() && app_sessions_.size() < kMaxAppSessions)
        it = app_sessions_.emplace(std::string(ev.application_name), SessionStats{}).first;
      if (it != app_sessions_.end()) it->second.add(ev.age_ms);
    }
  }
  if (rule.failure) {
    ++failures_;
    Cell& c = failure_seconds_[sec][{rule.component, idx}];
    ++c.count;
    if (ev.ts_us < c.first_ts) {
      c.first_ts = ev.ts_us;
      c.first_seq = records_;
      c.example = escape_sample(r.message, 200);
    }
  }
  if (on_event) on_event(ev);
  if (ended != by_pid_.end()) by_pid_.erase(ended);
}

void Analyzer::merge(Analyzer&& o) {
  uint32_t base = static_cast<uint32_t>(files_.size());
  (void)base;
  for (auto& f : o.files_) files_.push_back(std::move(f));
  for (size_t i = 0; i < classes_.size() && i < o.classes_.size(); ++i) {
    ClassStats& a = classes_[i];
    const ClassStats& b = o.classes_[i];
    a.count += b.count;
    a.first_ts = std::min(a.first_ts, b.first_ts);
    a.last_ts = std::max(a.last_ts, b.last_ts);
    for (const auto& [k, v] : b.per_bucket) a.per_bucket[k] += v;
  }
  for (size_t d = 0; d < dims_.size(); ++d) {
    for (const auto& [key, counts] : o.dims_[d]) {
      auto& mine = dims_[d][key];
      for (const auto& [rule, n] : counts) mine[rule] += n;
    }
  }
  sessions_.merge(o.sessions_);
  for (const auto& [app, st] : o.app_sessions_) {
    auto it = app_sessions_.find(app);
    if (it == app_sessions_.end() && app_sessions_.size() < kMaxAppSessions)
      it = app_sessions_.emplace(app, SessionStats{}).first;
    if (it != app_sessions_.end()) it->second.merge(st);
  }
  for (const auto& [sec, cells] : o.failure_seconds_) {
    auto& mine = failure_seconds_[sec];
    for (const auto& [key, c] : cells) {
      Cell& m = mine[key];
      m.count += c.count;
      if (c.first_ts < m.first_ts) {
        m.first_ts = c.first_ts;
        m.first_seq = c.first_seq;
        m.example = c.example;
      }
    }
  }
  for (const auto& [k, v] : o.unclassified_) unclassified_[k] += v;
  bad_.merge(o.bad_);
  records_ += o.records_;
  events_ += o.events_;
  failures_ += o.failures_;
}

void SessionStats::add(int64_t age_ms) {
  ++count;
  total_ms += static_cast<double>(age_ms);
  int64_t s = age_ms / 1000;
  ++fine[static_cast<size_t>(std::min<int64_t>(s, kFineMax))];
  size_t b = 0;
  while (b < kEdgesMs.size() && age_ms >= kEdgesMs[b]) ++b;
  ++coarse[b];
}

void SessionStats::merge(const SessionStats& o) {
  count += o.count;
  total_ms += o.total_ms;
  for (size_t i = 0; i < fine.size(); ++i) fine[i] += o.fine[i];
  for (size_t i = 0; i < coarse.size(); ++i) coarse[i] += o.coarse[i];
}

std::vector<Cluster> Analyzer::find_clusters(const SessionStats& stats) {
  std::vector<Cluster> out;
  const auto& f = stats.fine;
  if (stats.count < 5) return out;
  // A cluster: a 10 s window (starting at its first non-empty second) holding
  // >= 5 sessions and >= 3 % of all sessions, with >= 4x the density of the
  // 30 s just before it and >= 8x the average density beyond 30 s: a spike of
  // sessions cut at a fixed length, not the tail of a smooth distribution.
  constexpr int kWin = 10;
  constexpr int kMax = SessionStats::kFineMax;  // f[kMax] counts longer sessions
  auto window = [&](int from, int len) {
    uint64_t n = 0;
    for (int k = std::max(0, from); k < from + len && k < kMax; ++k) n += f[static_cast<size_t>(k)];
    return n;
  };
  double avg = static_cast<double>(window(30, kMax - 30)) / (kMax - 30) * kWin;
  int s = 30;
  while (s + kWin <= kMax) {
    if (f[static_cast<size_t>(s)] == 0) {
      ++s;
      continue;
    }
    uint64_t n = window(s, kWin);
    double share = static_cast<double>(n) / static_cast<double>(stats.count);
    double before = static_cast<double>(window(s - 30, 30)) / 3.0;
    if (n >= 5 && share >= 0.03 && static_cast<double>(n) >= 4 * std::max(before, 0.5) &&
        static_cast<double>(n) >= 8 * std::max(avg, 0.5)) {
      Cluster c;
      c.from_s = s;
      c.to_s = s + kWin;
      c.sessions = n;
      c.share = share;
      for (const auto& cut : kCuts) {
        if (s >= cut.seconds - 2 && s <= cut.seconds + 8) {
          c.suspect = cut.what;
          break;
        }
      }
      if (c.suspect.empty())
        c.suspect = "a fixed cut near " + std::to_string(s) +
                    " s (a timeout on a client, pooler, proxy or middlebox)";
      out.push_back(std::move(c));
      s += kWin;
      continue;
    }
    ++s;
  }
  return out;
}

std::vector<Incident> Analyzer::incidents() const {
  std::vector<Incident> out;
  Incident cur;
  std::map<std::pair<std::string, int>, Cell> acc;
  int64_t last_sec = INT64_MIN;
  auto close = [&]() {
    if (cur.failures >= std::max<uint64_t>(1, opts_.incident_min) && !acc.empty()) {
      for (const auto& [key, c] : acc) {
        Incident::Step st;
        st.component = key.first;
        st.cls = rules_.rule(key.second).cls;
        st.first_ts = c.first_ts;
        st.first_seq = c.first_seq;
        st.count = c.count;
        st.example = c.example;
        cur.steps.push_back(std::move(st));
      }
      std::sort(
          cur.steps.begin(), cur.steps.end(), [](const Incident::Step& a, const Incident::Step& b) {
            return a.first_ts != b.first_ts ? a.first_ts < b.first_ts : a.first_seq < b.first_seq;
          });
      const auto& first = cur.steps.front();
      std::string v = first.component + " failed first: " + first.cls;
      size_t shown = 0;
      for (size_t i = 1; i < cur.steps.size() && shown < 4; ++i, ++shown) {
        const auto& st = cur.steps[i];
        char buf[64];
        std::snprintf(buf, sizeof buf, " (+%.3f s)",
                      static_cast<double>(st.first_ts - first.first_ts) / 1e6);
        v += (shown == 0 ? "; then " : ", ") + st.component + " " + st.cls + buf;
      }
      if (cur.steps.size() > 5) v += ", ...";
      cur.verdict = std::move(v);
      out.push_back(std::move(cur));
    }
    cur = Incident{};
    acc.clear();
  };
  int64_t gap_s = std::max<int64_t>(1, opts_.incident_gap_us / 1000000);
  for (const auto& [sec, cells] : failure_seconds_) {
    if (last_sec != INT64_MIN && sec - last_sec > gap_s) close();
    for (const auto& [key, c] : cells) {
      Cell& a = acc[key];
      a.count += c.count;
      if (c.first_ts < a.first_ts || (c.first_ts == a.first_ts && c.first_seq < a.first_seq)) {
        a.first_ts = c.first_ts;
        a.first_seq = c.first_seq;
        a.example = c.example;
      }
      if (cur.failures == 0 || c.first_ts < cur.start_us) cur.start_us = c.first_ts;
      cur.end_us = std::max(cur.end_us, c.first_ts);
      cur.failures += c.count;
    }
    cur.end_us = std::max(cur.end_us, sec * 1000000 + 999999);
    last_sec = sec;
  }
  if (cur.failures > 0) close();
  return out;
}

}  // namespace pgw::logs
