#pragma once
// Prometheus-style metrics: counters, gauges and histograms in labelled
// families, and their text exposition (format 0.0.4). The hot path (inc,
// observe) is lock-free on a handle the caller keeps; creating a labelled
// child takes the family's mutex once. No sockets: the admin server serves
// Registry::exposition().
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pgw::observe {

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void inc(uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept;
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  // `bounds`: strictly increasing upper bounds; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Bucket bounds in seconds for latencies from 100 µs to 60 s.
std::vector<double> latency_buckets();

enum class MetricType { counter, gauge, histogram };

// One metric name with a fixed list of label names; children per label values.
// References returned by with() stay valid for the registry's lifetime.
template <class M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<M>()> make);
  M& with(const LabelValues& values);  // throws std::invalid_argument on wrong arity
  // Drops every child (gauges recomputed at each scrape for a changing set).
  void clear();
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls f(values, metric) for each child in label order, under the mutex.
  void for_each(const std::function<void(const LabelValues&, const M&)>& f) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<M>> children_;
};

class Registry {
 public:
  // Names follow Prometheus conventions (snake_case, counters end in _total,
  // units in the name); a second call with the same name returns the same
  // family, or throws std::invalid_argument if type or labels differ.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names,
                               std::vector<double> bounds = latency_buckets());

  // Runs before every exposition, to refresh gauges computed from live state.
  void on_collect(std::function<void()> refresh);

  // The text exposition format 0.0.4: # HELP and # TYPE per family, families
  // in registration order, label values escaped (\\, \", \n).
  std::string exposition() const;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Entry> families_;
  std::vector<std::function<void()>> refreshers_;
};

}  // namespace pgw::observe
