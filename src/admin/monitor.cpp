#include "pgwarden/admin/monitor.hpp"

#include <spdlog/spdlog.h>

#include <map>

#include "pgwarden/export/webhook_transport.hpp"

namespace pgw::admin {

using observe::SystemClock;

Monitor::Monitor(const ProxyConfig& cfg, proxy::Proxy& proxy, observe::EventBus& bus,
                 observe::Registry& metrics)
    : cfg_(cfg),
      proxy_(proxy),
      bus_(bus),
      forensics_(std::make_shared<observe::Forensics>(cfg.forensics)),
      alerts_(std::make_shared<observe::AlertEngine>(cfg.alerts)),
      findings_gauge_(metrics.gauge("pgwarden_forensic_findings",
                                    "Drop patterns found in the forensics window, by kind",
                                    {"kind"})),
      firing_gauge_(
          metrics.gauge("pgwarden_alerts_firing", "1 while an alert rule fires", {"alert"})),
      webhook_failures_(metrics.counter("pgwarden_alert_webhook_failures_total",
                                        "Failed alert webhook POSTs (each retry counts)", {})) {
  for (const auto& r : cfg.alerts.rules) firing_gauge_.with({r.name}).set(0);
  if (!cfg.alerts.webhook_url.empty()) {
    // Posted from a sink thread of its own: a slow or dead webhook delays
    // neither forensics nor alert evaluation. One notice per request; failed
    // ones are retried with backoff, in order, and announced as sink.failing.
    observe::SinkOptions o;
    o.name = "webhook:" + cfg.alerts.webhook_url;
    o.queue_size = 1'000;
    o.batch_size = 1;
    o.flush_interval = std::chrono::milliseconds(0);
    o.retry_min = std::chrono::seconds(1);
    o.retry_max = std::chrono::seconds(30);
    auto& failures = webhook_failures_;
    webhook_ = std::make_unique<observe::AsyncSink>(
        o,
        std::make_unique<exporter::WebhookTransport>(cfg.alerts.webhook_url, cfg.alerts.timeout,
                                                     [&failures](const std::string& error) {
                                                       failures.with({}).inc();
                                                       spdlog::warn("alert webhook: {}", error);
                                                     }),
        [&bus](observe::ConnectionEvent e) { bus.publish(e); });
  }
  // Both only append to their windows: cheap enough for the publishing thread.
  bus_.add_listener([forensics = forensics_, alerts = alerts_](const observe::ConnectionEvent& e) {
    if (e.event == "forensics.finding" || e.event.starts_with("alert.")) return;
    forensics->on_event(e);
    alerts->on_event(e);
  });
}

Monitor::~Monitor() {
  stop();
}

void Monitor::start() {
  thread_ = std::thread([this] { run(); });
}

void Monitor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Monitor::run() {
  auto period = std::min(cfg_.forensics.evaluate_every, cfg_.alerts.evaluate_every);
  if (period.count() <= 0) period = std::chrono::milliseconds(5000);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, period, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    tick(SystemClock::now());
    lock.lock();
  }
}

void Monitor::tick(SystemClock::time_point now) {
  for (const auto& cap : proxy_.capacities())
    alerts_->set_headroom(cap.backend, cap.up ? (cap.max_connections ? cap.headroom() : 0) : -1);
  for (const auto& h : bus_.sink_health()) {
    if (h.up) {
      sink_down_since_.erase(h.name);
      alerts_->set_sink_down(h.name, false, now);
    } else {
      auto since = sink_down_since_.emplace(h.name, now).first->second;
      alerts_->set_sink_down(h.name, true, since);
    }
  }

  if (cfg_.forensics.enabled) {
    auto eval = forensics_->evaluate(now);
    std::map<std::string, int> by_kind;
    for (const auto& f : eval.all) by_kind[f.kind]++;
    findings_gauge_.clear();
    for (auto& [kind, n] : by_kind) findings_gauge_.with({kind}).set(n);
    for (const auto& f : eval.fresh) bus_.publish(observe::finding_event(f));
  }
  for (const auto& notice : alerts_->evaluate(now)) {
    firing_gauge_.with({notice.rule}).set(notice.status == "resolved" ? 0 : 1);
    bus_.publish(observe::notice_event(notice));
    deliver(notice);
  }
}

void Monitor::deliver(const observe::AlertNotice& n) {
  if (webhook_) webhook_->push(observe::notice_event(n), observe::webhook_json(n));
}

nlohmann::json Monitor::findings_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : forensics_->findings()) out.push_back(observe::to_json(f));
  return out;
}

nlohmann::json Monitor::alerts_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : alerts_->states()) out.push_back(observe::to_json(s));
  return out;
}

}  // namespace pgw::admin
