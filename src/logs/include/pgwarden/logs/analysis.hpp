#pragma once
// Classifies records with a rule pack and aggregates them: counts and rates per
// class over time, per application/user/database/host, session durations with
// idle-cut cluster detection, PID joins and incident windows with a
// first-failure verdict. Memory grows with distinct keys and time, not lines.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pgwarden/logs/readers.hpp"
#include "pgwarden/logs/record.hpp"
#include "pgwarden/logs/rules.hpp"

namespace pgw::logs {

// Per key (an application, user, ...): events per rule index.
using DimMap = std::map<std::string, std::map<int, uint64_t>, std::less<>>;

// One classified connection event (the shared event model's fields).
struct Event {
  int64_t ts_us = 0;
  bool ts_estimated = false;  // the line had no timestamp (file order + fallback time)
  int rule = -1;
  const Rule* r = nullptr;
  const Record* rec = nullptr;
  std::string_view file;
  // Views into the record, the rule's captures or the PID join; valid during on_event.
  std::string_view user, database, application_name, host, port, errno_text;
  int64_t pid = 0;
  int64_t age_ms = -1;
};

struct FileInfo {
  std::string name;
  Format format = Format::Auto;
  std::string prefix;  // stderr: the log_line_prefix used
  uint64_t bytes = 0, lines = 0, records = 0, events = 0;
  // Events whose line had no time: placed after the previous timed line of
  // this file (or the file's start time), in file order.
  uint64_t events_inferred_ts = 0;
  std::string capture;  // the capture prefix its lines carried ("rfc3339", "journald", ...)
  int64_t first_ts = 0, last_ts = 0;
  bool has_ts = false;
  std::string error;  // could not be read
};

struct ClassStats {
  uint64_t count = 0;
  int64_t first_ts = INT64_MAX, last_ts = INT64_MIN;
  std::map<int64_t, uint64_t> per_bucket;  // bucket start (s) -> count
};

struct Cell {  // one (component, class) within one second of failures
  int64_t first_ts = INT64_MAX;
  uint64_t first_seq = 0;  // record number of the first one: orders equal timestamps
  uint64_t count = 0;
  std::string example;
};

struct SessionStats {
  static constexpr int kFineMax = 7200;  // 1 s bins up to 2 h
  uint64_t count = 0;
  double total_ms = 0;
  std::vector<uint64_t> fine = std::vector<uint64_t>(kFineMax + 1, 0);  // last = beyond
  // pgBadger-like buckets: <500 ms, <1 s, <30 s, <1 min, <10 min, <30 min, <1 h, <8 h, more
  static constexpr std::array<int64_t, 8> kEdgesMs{500,    1000,    30000,   60000,
                                                   600000, 1800000, 3600000, 28800000};
  std::array<uint64_t, 9> coarse{};

  void add(int64_t age_ms);
  void merge(const SessionStats& o);
};

struct Cluster {
  int64_t from_s = 0, to_s = 0;  // session length window
  uint64_t sessions = 0;
  double share = 0;     // of all sessions
  std::string suspect;  // e.g. "AWS NAT Gateway / NLB idle timeout (350 s)"
};

struct Incident {
  int64_t start_us = 0, end_us = 0;
  uint64_t failures = 0;
  struct Step {
    std::string component, cls;
    int64_t first_ts = 0;
    uint64_t first_seq = 0;
    uint64_t count = 0;
    std::string example;
  };
  std::vector<Step> steps;  // by first appearance; steps[0] came first
  std::string verdict;
};

struct AnalyzerOptions {
  int64_t bucket_s = 60;                 // time-series bucket
  int64_t incident_gap_us = 60'000'000;  // failures closer than this form one incident
  uint64_t incident_min = 2;             // failures needed for an incident
  int64_t assume_start_us = 0;           // time for lines without a timestamp (0: file mtime)
  size_t max_keys = 10000;               // distinct apps/users/... kept per dimension
};

class Analyzer {
 public:
  Analyzer(const RulePack& rules, AnalyzerOptions opts);

  // Starts a file; fallback_ts is used for lines without a timestamp.
  uint32_t begin_file(const std::string& name, Format f, int64_t fallback_ts);
  void set_prefix(uint32_t file, std::string prefix) { files_[file].prefix = std::move(prefix); }
  // --follow and stdin: a line without a time gets the time it arrived.
  void stamp_on_arrival(uint32_t file) { on_arrival_[file] = true; }
  void set_capture(uint32_t file, std::string capture) {
    files_[file].capture = std::move(capture);
  }
  void add_bytes(uint32_t file, uint64_t n, uint64_t lines) {
    files_[file].bytes += n;
    files_[file].lines = lines;
  }
  void set_error(uint32_t file, std::string e) { files_[file].error = std::move(e); }
  // Entries a reader skipped because no rule could match them.
  void add_skipped(uint32_t file, uint64_t n) {
    files_[file].records += n;
    records_ += n;
  }
  void add(Record& r);
  // Folds another analyzer (another file, analysed on another thread) into this one.
  void merge(Analyzer&& o);

  std::function<void(const Event&)> on_event;  // e.g. --output events / --follow

  // Results.
  const RulePack& rules() const { return rules_; }
  const std::vector<FileInfo>& files() const { return files_; }
  const std::vector<ClassStats>& classes() const { return classes_; }
  // dim: application | user | database | host
  const DimMap& by(const std::string& dim) const;
  const SessionStats& sessions() const { return sessions_; }
  const std::map<std::string, uint64_t>& unclassified() const { return unclassified_; }
  BadInput& bad() { return bad_; }
  const BadInput& bad() const { return bad_; }
  uint64_t records() const { return records_; }
  uint64_t events() const { return events_; }
  uint64_t failures() const { return failures_; }
  const AnalyzerOptions& options() const { return opts_; }

  std::vector<Cluster> session_clusters() const { return find_clusters(sessions_); }
  // Sessions per application_name (the first kMaxAppSessions names seen).
  static constexpr size_t kMaxAppSessions = 100;
  const std::map<std::string, SessionStats, std::less<>>& app_sessions() const {
    return app_sessions_;
  }
  static std::vector<Cluster> find_clusters(const SessionStats& s);
  std::vector<Incident> incidents() const;

 private:
  struct SessionInfo {
    std::string user, database, app, host, port;
  };
  void count_dim(size_t dim, std::string_view key, int rule);

  const RulePack& rules_;
  AnalyzerOptions opts_;
  std::vector<FileInfo> files_;
  std::vector<int64_t> last_ts_;  // per file, for lines without timestamps
  std::vector<bool> on_arrival_;  // per file: stamp lines without timestamps on arrival
  std::vector<ClassStats> classes_;
  std::array<DimMap, 4> dims_;  // application, user, database, host
  SessionStats sessions_;
  std::map<std::string, SessionStats, std::less<>> app_sessions_;
  std::map<int64_t, std::map<std::pair<std::string, int>, Cell>> failure_seconds_;
  std::map<std::string, uint64_t> unclassified_;     // by level
  std::unordered_map<int64_t, SessionInfo> by_pid_;  // per current file
  BadInput bad_;
  Captures caps_;
  uint64_t records_ = 0, events_ = 0, failures_ = 0;
};

}  // namespace pgw::logs
