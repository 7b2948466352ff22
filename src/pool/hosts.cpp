#include "pgwarden/pool/hosts.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pgw::pool {

const char* to_string(HostRole r) {
  switch (r) {
    case HostRole::unknown:
      return "unknown";
    case HostRole::primary:
      return "primary";
    case HostRole::standby:
      return "standby";
    case HostRole::down:
      return "down";
  }
  return "unknown";
}

std::optional<size_t> select_host(const std::vector<HostState>& hosts, TargetSessionAttrs attrs,
                                  HostClock::time_point now) {
  auto usable = [&](const HostState& h) {
    return h.role != HostRole::down && !(h.quarantined && now < h.quarantined_until);
  };
  auto first = [&](HostRole role) -> std::optional<size_t> {
    for (size_t i = 0; i < hosts.size(); ++i)
      if (hosts[i].role == role && usable(hosts[i])) return i;
    return std::nullopt;
  };
  switch (attrs) {
    case TargetSessionAttrs::read_write:
      if (auto i = first(HostRole::primary)) return i;
      return first(HostRole::unknown);
    case TargetSessionAttrs::read_only:
      if (auto i = first(HostRole::standby)) return i;
      return first(HostRole::unknown);
    case TargetSessionAttrs::prefer_standby:
      // A host not checked yet may be the standby: wait for the monitor
      // (bounded by host_check_timeout) rather than settle for a primary.
      if (auto i = first(HostRole::standby)) return i;
      if (first(HostRole::unknown)) return std::nullopt;
      return first(HostRole::primary);
    case TargetSessionAttrs::any:
      for (size_t i = 0; i < hosts.size(); ++i)
        if (usable(hosts[i])) return i;
      return std::nullopt;
  }
  return std::nullopt;
}

std::string login_role_mismatch(TargetSessionAttrs attrs, bool in_recovery, bool read_only) {
  if (attrs == TargetSessionAttrs::read_write && (in_recovery || read_only))
    return "server_not_writer";
  if (attrs == TargetSessionAttrs::read_only && !in_recovery && !read_only)
    return "server_not_standby";
  return "";
}

HostSet::HostSet(std::string database, std::vector<HostPort> hosts, bool tracked, const Timeouts& t)
    : database_(std::move(database)), size_(hosts.size()), tracked_(tracked), t_(t) {
  for (auto& h : hosts) hosts_.push_back(HostState{h});
  check_now_.assign(hosts_.size(), false);
}

std::optional<HostTarget> HostSet::pick(TargetSessionAttrs attrs) {
  std::lock_guard lock(mu_);
  if (!tracked_) return HostTarget{0, hosts_[0].addr, hosts_[0].epoch};
  auto i = select_host(hosts_, attrs, HostClock::now());
  if (!i) return std::nullopt;
  return HostTarget{*i, hosts_[*i].addr, hosts_[*i].epoch};
}

observe::ConnectionEvent HostSet::host_event(size_t i, std::string event) const {
  observe::ConnectionEvent ev;
  ev.event = std::move(event);
  ev.database = database_;
  ev.host = hosts_[i].addr.str();
  ev.backend = ev.host;
  ev.role = to_string(hosts_[i].role);
  ev.message = hosts_[i].answer;
  return ev;
}

void HostSet::role_change_locked(size_t i, HostRole role,
                                 std::vector<observe::ConnectionEvent>& out, bool& changed) {
  HostState& h = hosts_[i];
  const HostRole before = h.role;
  if (before == role) return;
  changed = before != HostRole::unknown || role == HostRole::down;
  h.role = role;
  if (changed) ++h.epoch;  // links opened before are stale (unknown → a role: verified at login)
  const auto now = HostClock::now();
  if (before != HostRole::unknown) {
    auto ev = host_event(i, "host.role_changed");
    ev.previous_role = to_string(before);
    ev.cause = role == HostRole::down ? "host_down" : "server_role_changed";
    out.push_back(std::move(ev));
  }
  // The writer went away (down, or back as a standby): a failover starts.
  if (before == HostRole::primary && role != HostRole::primary) {
    if (!fo_.active) {
      fo_ = FailoverTimeline{};
      fo_.active = true;
      fo_.old_host = h.addr.str();
      fo_.lost = now;
      fo_.lost_wall = observe::SystemClock::now();
    }
    if (!fo_.is_detected) {
      fo_.is_detected = true;
      fo_.detected = now;
    }
  }
  if (role == HostRole::primary && fo_.active && !fo_.is_found) {
    if (!fo_.is_detected) {
      fo_.is_detected = true;
      fo_.detected = now;
    }
    fo_.is_found = true;
    fo_.found = now;
    fo_.new_host = h.addr.str();
  }
}

std::vector<observe::ConnectionEvent> HostSet::report_role(size_t i, HostRole role,
                                                           std::string answer, bool& changed) {
  std::vector<observe::ConnectionEvent> out;
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    HostState& h = hosts_[i];
    changed = false;
    const bool was_quarantined = h.quarantined || h.role == HostRole::down;
    h.answer = std::move(answer);
    h.failures = 0;
    h.backoff = Millis(0);
    h.quarantined = false;
    if (was_quarantined && h.role == HostRole::down) {
      // Recovered: the role change is announced as host.recovered.
      const HostRole before = h.role;
      h.role = role;
      ++h.epoch;
      changed = true;
      auto ev = host_event(i, "host.recovered");
      ev.previous_role = to_string(before);
      out.push_back(std::move(ev));
      if (role == HostRole::primary && fo_.active && !fo_.is_found) {
        fo_.is_found = true;
        fo_.found = HostClock::now();
        fo_.new_host = h.addr.str();
        if (!fo_.is_detected) {
          fo_.is_detected = true;
          fo_.detected = fo_.found;
        }
      }
    } else {
      role_change_locked(i, role, out, changed);
    }
    if (role == HostRole::primary) wake = wakeup_;
  }
  if (wake) wake();
  return out;
}

std::vector<observe::ConnectionEvent> HostSet::report_failure(size_t i, std::string answer,
                                                              bool& changed) {
  std::vector<observe::ConnectionEvent> out;
  std::lock_guard lock(mu_);
  HostState& h = hosts_[i];
  changed = false;
  h.answer = std::move(answer);
  ++h.failures;
  h.backoff = h.backoff.count() == 0 ? t_.host_quarantine
                                     : std::min<Millis>(h.backoff * 2, t_.host_quarantine_max);
  const bool was = h.quarantined;
  h.quarantined = true;
  h.quarantined_until = HostClock::now() + h.backoff;
  role_change_locked(i, HostRole::down, out, changed);
  if (!was) {
    auto ev = host_event(i, "host.quarantined");
    ev.cause = "host_check_failed";
    ev.count = h.failures;
    out.push_back(std::move(ev));
  }
  return out;
}

void HostSet::report_link_lost(size_t i) {
  std::function<void(size_t)> ask;
  {
    std::lock_guard lock(mu_);
    if (!tracked_ || i >= hosts_.size()) return;
    if (hosts_[i].role == HostRole::primary && !fo_.active) {
      fo_ = FailoverTimeline{};
      fo_.active = true;
      fo_.old_host = hosts_[i].addr.str();
      fo_.lost = HostClock::now();
      fo_.lost_wall = observe::SystemClock::now();
    }
    check_now_[i] = true;
    ask = on_check_asked_;
  }
  if (ask) ask(i);
}

void HostSet::report_aurora(size_t i, std::string instance_id, std::string writer_id) {
  std::function<void(size_t)> ask;
  std::optional<size_t> recheck;
  {
    std::lock_guard lock(mu_);
    hosts_[i].aurora_id = std::move(instance_id);
    hosts_[i].aurora_writer = writer_id;
    if (writer_id.empty()) return;
    // The topology names the writer: the host with that instance identifier
    // (learnt from its own check, or its DNS name's first label) is checked
    // at once when pgwarden does not know it as the primary yet.
    for (size_t j = 0; j < hosts_.size(); ++j) {
      const auto& h = hosts_[j];
      const bool named = h.aurora_id == writer_id || h.addr.host == writer_id ||
                         h.addr.host.starts_with(writer_id + ".");
      if (named && h.role != HostRole::primary) {
        check_now_[j] = true;
        if (h.quarantined) hosts_[j].quarantined_until = HostClock::now();
        recheck = j;
      }
    }
    ask = on_check_asked_;
  }
  if (recheck && ask) ask(*recheck);
}

std::optional<observe::ConnectionEvent> HostSet::note_served() {
  std::lock_guard lock(mu_);
  if (!fo_.active || !fo_.is_found) return std::nullopt;
  const auto now = HostClock::now();
  auto ms = [&](HostClock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - fo_.lost).count();
  };
  observe::ConnectionEvent ev;
  ev.event = "failover";
  ev.ts = fo_.lost_wall;
  ev.database = database_;
  ev.old_host = fo_.old_host;
  ev.host = fo_.new_host;
  ev.role = "primary";
  ev.cause = fo_.old_host == fo_.new_host ? "writer_returned" : "writer_changed";
  ev.detected_ms = ms(fo_.detected);
  ev.writer_found_ms = ms(fo_.found);
  ev.first_served_ms = ms(now);
  ev.message = fmt::format(
      "writer {} lost; detected after {} ms, new writer {} found after {} ms, first transaction "
      "served after {} ms",
      fo_.old_host, ev.detected_ms, fo_.new_host, ev.writer_found_ms, ev.first_served_ms);
  fo_ = FailoverTimeline{};
  ++failovers_;
  return ev;
}

bool HostSet::due(size_t i, HostClock::time_point now) const {
  std::lock_guard lock(mu_);
  const auto& h = hosts_[i];
  if (check_now_[i]) return true;
  return !(h.quarantined && now < h.quarantined_until);
}

Millis HostSet::interval() const {
  std::lock_guard lock(mu_);
  bool writer = false, any_up = false;
  for (auto& h : hosts_) {
    writer = writer || h.role == HostRole::primary;
    any_up = any_up || (h.role != HostRole::down && h.role != HostRole::unknown);
  }
  if (fo_.active || !writer || !any_up) return t_.host_check_fast_interval;
  return t_.host_check_interval;
}

bool HostSet::check_asked(size_t i) {
  std::lock_guard lock(mu_);
  bool asked = check_now_[i];
  check_now_[i] = false;
  return asked;
}

uint64_t HostSet::epoch(size_t i) const {
  std::lock_guard lock(mu_);
  return hosts_[i].epoch;
}

bool HostSet::stale(size_t i, uint64_t epoch) const {
  std::lock_guard lock(mu_);
  return tracked_ && i < hosts_.size() && hosts_[i].epoch != epoch;
}

void HostSet::set_wakeup(std::function<void()> f) {
  std::lock_guard lock(mu_);
  wakeup_ = std::move(f);
}

void HostSet::set_on_check_asked(std::function<void(size_t)> f) {
  std::lock_guard lock(mu_);
  on_check_asked_ = std::move(f);
}

std::vector<HostState> HostSet::snapshot() const {
  std::lock_guard lock(mu_);
  return hosts_;
}

std::string HostSet::describe() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (auto& h : hosts_) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} ({}", h.addr.str(), to_string(h.role));
    if (!h.answer.empty()) out += ": " + h.answer;
    out += ")";
  }
  return out;
}

std::optional<FailoverTimeline> HostSet::failover() const {
  std::lock_guard lock(mu_);
  if (!fo_.active) return std::nullopt;
  return fo_;
}

uint64_t HostSet::failovers() const {
  std::lock_guard lock(mu_);
  return failovers_;
}

}  // namespace pgw::pool
