#pragma once
// The hosts of one database and what pgwarden knows of each: its role
// (primary, standby, down), quarantine with exponential backoff, the Aurora
// instance identifier, and the failover timeline when the writer goes away.
// Pure state plus `select_host`; the role monitor (PoolManager) and the pools
// feed it, and every new server connection asks it where to go.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pgwarden/core/config.hpp"
#include "pgwarden/observe/event.hpp"

namespace pgw::pool {

using HostClock = std::chrono::steady_clock;

enum class HostRole { unknown, primary, standby, down };
const char* to_string(HostRole r);

struct HostState {
  HostPort addr;
  HostRole role = HostRole::unknown;
  std::string answer;  // what the latest check (or login) answered, for messages
  uint64_t epoch = 0;  // bumped when the role changes: links opened before are stale
  bool quarantined = false;
  HostClock::time_point quarantined_until{};
  Millis backoff{0};
  int failures = 0;           // consecutive failed checks or connects
  std::string aurora_id;      // aurora_db_instance_identifier(); "" off Aurora
  std::string aurora_writer;  // the writer aurora_replica_status() named, as this host sees it
};

// Where a new server connection goes: the host's index, address and epoch.
struct HostTarget {
  size_t index = 0;
  HostPort addr;
  uint64_t epoch = 0;
};

// The host a new connection for a pool with `attrs` should go to now, or
// nullopt (no suitable host: hold). Pure. Order of preference:
//   read-write:     a primary; else a host of unknown role (its login is checked)
//   read-only:      a standby; else a host of unknown role (checked at login)
//   prefer-standby: a standby; else, once every host was checked, a primary
//   any:            the first host that is not down or quarantined
// Quarantined hosts are never chosen, nor are hosts known to be down.
std::optional<size_t> select_host(const std::vector<HostState>& hosts, TargetSessionAttrs attrs,
                                  HostClock::time_point now);

// Whether a freshly logged-in server fits `attrs`, from what it reported:
// in_hot_standby (PostgreSQL 14+) and default_transaction_read_only.
// Returns "" when it fits, else the close cause (server_not_writer,
// server_not_standby).
std::string login_role_mismatch(TargetSessionAttrs attrs, bool in_recovery, bool read_only);

// Failover timeline of one database (read-write pools): the writer lost
// (first failure seen), detected (confirmed by a check or a refused connect),
// new writer found, first transaction served.
struct FailoverTimeline {
  bool active = false;
  std::string old_host;
  HostClock::time_point lost, detected, found;
  observe::SystemClock::time_point lost_wall;
  bool is_detected = false, is_found = false;
  std::string new_host;
};

// One database's hosts, shared by its pools and its role monitor. Its mutex
// is a leaf: no other lock is taken while it is held. Events are published
// by the caller (returned), never under the lock.
class HostSet {
 public:
  HostSet(std::string database, std::vector<HostPort> hosts, bool tracked, const Timeouts& t);
  const std::string& database() const { return database_; }
  // Tracked: several hosts, or a target_session_attrs other than any. An
  // untracked set always answers its one host and never holds.
  bool tracked() const { return tracked_; }
  size_t size() const { return size_; }

  std::optional<HostTarget> pick(TargetSessionAttrs attrs);
  // The role a check or a login learnt. Returns events (host.role_changed,
  // host.recovered, failover progress); `changed` is set when the role differs
  // from the one known (links of older epochs must close).
  std::vector<observe::ConnectionEvent> report_role(size_t i, HostRole role, std::string answer,
                                                    bool& changed);
  // A check or a connect failed: the host is down and quarantined with
  // backoff (host.quarantined). `changed` as above.
  std::vector<observe::ConnectionEvent> report_failure(size_t i, std::string answer, bool& changed);
  // A link to the host died (EOF, reset, 57P01/57P02/57P03): if it was the
  // writer, the failover timeline starts (writer lost) and the monitor checks
  // it at once.
  void report_link_lost(size_t i);
  void report_aurora(size_t i, std::string instance_id, std::string writer_id);
  // The first link lent by a read-write pool after a new writer was found:
  // ends the failover; returns its `failover` event (or nothing).
  std::optional<observe::ConnectionEvent> note_served();

  // For the monitor: should host i be checked now? (quarantine expired, a
  // check was asked for) and the interval to sleep: fast while the writer is
  // missing for a read-write database or every host is down.
  bool due(size_t i, HostClock::time_point now) const;
  Millis interval() const;
  bool check_asked(size_t i);  // and clears the request
  uint64_t epoch(size_t i) const;
  bool stale(size_t i, uint64_t epoch) const;
  // Anyone waiting for a writer wakes on this (set by PoolManager).
  void set_wakeup(std::function<void()> f);
  void set_on_check_asked(std::function<void(size_t)> f);

  std::vector<HostState> snapshot() const;
  // "127.0.0.1:5432 (primary), 10.0.0.2:5433 (down: connection refused)".
  std::string describe() const;
  std::optional<FailoverTimeline> failover() const;
  uint64_t failovers() const;

 private:
  void role_change_locked(size_t i, HostRole role, std::vector<observe::ConnectionEvent>& out,
                          bool& changed);
  observe::ConnectionEvent host_event(size_t i, std::string event) const;
  mutable std::mutex mu_;
  std::string database_;
  std::vector<HostState> hosts_;
  size_t size_;
  bool tracked_;
  Timeouts t_;
  std::vector<bool> check_now_;
  FailoverTimeline fo_;
  uint64_t failovers_ = 0;
  std::function<void()> wakeup_;
  std::function<void(size_t)> on_check_asked_;
};

}  // namespace pgw::pool
