#include <algorithm>

#include "forensics_patterns.hpp"

namespace pgw::observe::forensics {

namespace {

constexpr int kMaxClustersPerSet = 3;
constexpr double kMinClusterMs = 1000;

double tolerance_ms(double median_ms) {
  return std::max(1000.0, 0.05 * median_ms);
}

// Median of the sorted range [b, e).
double median_of(const std::vector<Sample>& s, size_t b, size_t e) {
  size_t n = e - b;
  size_t mid = b + n / 2;
  return n % 2 ? s[mid].ms : (s[mid - 1].ms + s[mid].ms) / 2;
}

struct Range {
  size_t b, e;
  bool operator==(const Range&) const = default;
};

Range band_around(const std::vector<Sample>& s, double median_ms) {
  double tol = tolerance_ms(median_ms);
  auto lo = std::lower_bound(s.begin(), s.end(), median_ms - tol,
                             [](const Sample& a, double v) { return a.ms < v; });
  auto hi = std::upper_bound(s.begin(), s.end(), median_ms + tol,
                             [](double v, const Sample& a) { return v < a.ms; });
  return {static_cast<size_t>(lo - s.begin()), static_cast<size_t>(hi - s.begin())};
}

// The most populated span no wider than two tolerances: the cluster's seed.
Range densest_span(const std::vector<Sample>& s) {
  Range best{0, 0};
  for (size_t b = 0, e = 0; b < s.size(); ++b) {
    e = std::max(e, b);
    double width = 2 * tolerance_ms(s[b].ms);
    while (e < s.size() && s[e].ms - s[b].ms <= width) ++e;
    if (e - b > best.e - best.b) best = {b, e};
  }
  return best;
}

}  // namespace

std::vector<Cluster> find_clusters(std::vector<Sample> samples, size_t min_count,
                                   double min_share) {
  min_count = std::max<size_t>(min_count, 1);
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.ms < b.ms; });
  const size_t total = samples.size();
  std::vector<Cluster> out;
  for (int round = 0; round < kMaxClustersPerSet && samples.size() >= min_count; ++round) {
    Range r = densest_span(samples);
    if (r.e - r.b < min_count) break;
    double median = median_of(samples, r.b, r.e);
    // Re-centre on the members' own median until the band stops moving.
    for (int i = 0; i < 4; ++i) {
      Range next = band_around(samples, median);
      if (next == r) break;
      r = next;
      median = median_of(samples, r.b, r.e);
    }
    const size_t size = r.e - r.b;
    const double share = static_cast<double>(size) / static_cast<double>(total);
    if (size < min_count || median < kMinClusterMs || share < min_share) break;
    Cluster c{{}, median};
    for (size_t i = r.b; i < r.e; ++i) c.indices.push_back(samples[i].index);
    out.push_back(std::move(c));
    samples.erase(samples.begin() + static_cast<std::ptrdiff_t>(r.b),
                  samples.begin() + static_cast<std::ptrdiff_t>(r.e));
  }
  return out;
}

}  // namespace pgw::observe::forensics
