#include "pgwarden/observe/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace pgw::observe {

namespace {

void add_double(std::atomic<double>& target, double d) noexcept {
  double old = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(old, old + d, std::memory_order_relaxed)) {
  }
}

void check_bounds(const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    // +Inf is implicit; an explicit one would print le="+Inf" twice.
    if (!std::isfinite(bounds[i])) throw std::invalid_argument("histogram bounds must be finite");
    if (i > 0 && !(bounds[i - 1] < bounds[i]))
      throw std::invalid_argument("histogram bounds must be strictly increasing");
  }
}

}  // namespace

void Gauge::add(double d) noexcept {
  add_double(v_, d);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  check_bounds(bounds_);
}

// Order matters for snapshot(): bucket, then sum, then count.
void Histogram::observe(double v) noexcept {
  size_t i = bounds_.size();  // NaN lands in +Inf, as in the Go client
  if (!std::isnan(v))
    i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1);
  add_double(sum_, v);
  count_.fetch_add(1);
}

// Reads in the reverse order of observe(): when the buckets add up to the
// count read first, no observation was half-recorded, so sum and buckets
// agree. Under constant contention it gives up and reports the buckets' total.
Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  for (int attempt = 0; attempt < 100; ++attempt) {
    uint64_t count = count_.load();
    s.sum = sum_.load();
    s.cumulative.assign(bounds_.size() + 1, 0);
    uint64_t total = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      total += buckets_[i].load();
      s.cumulative[i] = total;
    }
    s.count = total;
    if (total == count) break;
  }
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
}

template <class M>
Family<M>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::function<std::unique_ptr<M>()> make)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      make_(std::move(make)) {}

template <class M>
M& Family<M>::with(const LabelValues& values) {
  if (values.size() != label_names_.size())
    throw std::invalid_argument(name_ + ": expected " + std::to_string(label_names_.size()) +
                                " label values, got " + std::to_string(values.size()));
  std::lock_guard lock(mu_);
  auto& child = children_[values];
  if (!child) child = make_();
  return *child;
}

template <class M>
void Family<M>::clear() {
  std::lock_guard lock(mu_);
  children_.clear();
}

template <class M>
void Family<M>::for_each(const std::function<void(const LabelValues&, const M&)>& f) const {
  std::lock_guard lock(mu_);
  for (const auto& [values, child] : children_) f(values, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

}  // namespace pgw::observe
