#include <set>
#include <stdexcept>

#include "metrics_text.hpp"
#include "pgwarden/observe/metrics.hpp"

namespace pgw::observe {

namespace {

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

void check_names(const std::string& name, const std::vector<std::string>& label_names,
                 MetricType type) {
  if (!text::valid_metric_name(name))
    throw std::invalid_argument("invalid metric name \"" + name + "\"");
  std::set<std::string> seen;
  for (const auto& l : label_names) {
    if (!text::valid_label_name(l))
      throw std::invalid_argument(name + ": invalid label name \"" + l + "\"");
    if (l.starts_with("__"))
      throw std::invalid_argument(name + ": label names starting with __ are reserved");
    // The histogram's own bucket label.
    if (type == MetricType::histogram && l == "le")
      throw std::invalid_argument(name + ": label \"le\" is reserved on histograms");
    if (!seen.insert(l).second)
      throw std::invalid_argument(name + ": label \"" + l + "\" given twice");
  }
}

// {a="x",b="y"} with an optional extra pair (le) last; "" when there are none.
std::string label_set(const std::vector<std::string>& names, const LabelValues& values,
                      const char* extra_name = nullptr, const std::string& extra_value = {}) {
  if (names.empty() && !extra_name) return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i] + "=\"" + text::escape_label_value(values[i]) + '"';
  }
  if (extra_name) {
    if (!names.empty()) out += ',';
    out += std::string(extra_name) + "=\"" + extra_value + '"';
  }
  return out + '}';
}

template <class M>
void write_header(std::string& out, const Family<M>& f, MetricType type) {
  out += "# HELP " + f.name() + ' ' + text::escape_help(f.help()) + '\n';
  out += "# TYPE " + f.name() + ' ' + type_name(type) + '\n';
}

void write_family(std::string& out, const Family<Counter>& f) {
  write_header(out, f, MetricType::counter);
  f.for_each([&](const LabelValues& values, const Counter& c) {
    out += f.name() + label_set(f.label_names(), values) + ' ' + std::to_string(c.value()) + '\n';
  });
}

void write_family(std::string& out, const Family<Gauge>& f) {
  write_header(out, f, MetricType::gauge);
  f.for_each([&](const LabelValues& values, const Gauge& g) {
    out +=
        f.name() + label_set(f.label_names(), values) + ' ' + text::format_double(g.value()) + '\n';
  });
}

void write_family(std::string& out, const Family<Histogram>& f) {
  write_header(out, f, MetricType::histogram);
  f.for_each([&](const LabelValues& values, const Histogram& h) {
    Histogram::Snapshot s = h.snapshot();
    const auto& bounds = h.bounds();
    for (size_t i = 0; i <= bounds.size(); ++i) {
      std::string le = i < bounds.size() ? text::format_double(bounds[i]) : "+Inf";
      out += f.name() + "_bucket" + label_set(f.label_names(), values, "le", le) + ' ' +
             std::to_string(s.cumulative[i]) + '\n';
    }
    std::string labels = label_set(f.label_names(), values);
    out += f.name() + "_sum" + labels + ' ' + text::format_double(s.sum) + '\n';
    out += f.name() + "_count" + labels + ' ' + std::to_string(s.count) + '\n';
  });
}

// Returns the family registered under `name` if type and labels agree, or
// adds it. `slot` picks the entry's member for M (Entry is private to Registry).
template <class M, class Families, class Slot>
Family<M>& find_or_add(Families& families, std::vector<std::string>& order, MetricType type,
                       Slot slot, const std::string& name, const std::string& help,
                       std::vector<std::string> label_names,
                       std::function<std::unique_ptr<M>()> make) {
  if (auto it = families.find(name); it != families.end()) {
    auto& family = slot(it->second);
    if (it->second.type != type || !family || family->label_names() != label_names)
      throw std::invalid_argument(name + ": already registered with another type or labels");
    return *family;
  }
  auto& entry = families[name];
  entry.type = type;
  auto& family = slot(entry);
  family = std::make_unique<Family<M>>(name, help, std::move(label_names), std::move(make));
  order.push_back(name);
  return *family;
}

}  // namespace

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  check_names(name, label_names, MetricType::counter);
  std::lock_guard lock(mu_);
  return find_or_add<Counter>(
      families_, order_, MetricType::counter, [](Entry & e) -> auto& { return e.counter; }, name,
      help, std::move(label_names), [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  check_names(name, label_names, MetricType::gauge);
  std::lock_guard lock(mu_);
  return find_or_add<Gauge>(
      families_, order_, MetricType::gauge, [](Entry & e) -> auto& { return e.gauge; }, name, help,
      std::move(label_names), [] { return std::make_unique<Gauge>(); });
}

// A second call with other bounds returns the first family unchanged: the
// bounds live in its children, not in the family.
Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  check_names(name, label_names, MetricType::histogram);
  Histogram validated(bounds);  // throws on bad bounds now rather than at first with()
  std::lock_guard lock(mu_);
  return find_or_add<Histogram>(
      families_, order_, MetricType::histogram, [](Entry & e) -> auto& { return e.histogram; },
      name, help, std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
}

void Registry::on_collect(std::function<void()> refresh) {
  std::lock_guard lock(mu_);
  refreshers_.push_back(std::move(refresh));
}

std::string Registry::exposition() const {
  // Refreshers run unlocked: they set gauges and may register families.
  std::vector<std::function<void()>> refreshers;
  {
    std::lock_guard lock(mu_);
    refreshers = refreshers_;
  }
  for (const auto& refresh : refreshers) refresh();

  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& name : order_) {
    const Entry& e = families_.at(name);
    switch (e.type) {
      case MetricType::counter:
        write_family(out, *e.counter);
        break;
      case MetricType::gauge:
        write_family(out, *e.gauge);
        break;
      case MetricType::histogram:
        write_family(out, *e.histogram);
        break;
    }
  }
  return out;
}

}  // namespace pgw::observe
