#pragma once
// The watch loop beside the data plane: every few seconds it evaluates drop
// forensics and alert rules, feeds them the proxy's capacity probes and the
// sinks' health, publishes new findings and alert notices as events, and
// queues notices for the alert webhook, which a sink thread of its own posts:
// a slow webhook touches neither a client nor the evaluation.
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "pgwarden/observe/alerts.hpp"
#include "pgwarden/observe/bus.hpp"
#include "pgwarden/observe/forensics.hpp"
#include "pgwarden/observe/metrics.hpp"
#include "pgwarden/observe/sink.hpp"
#include "pgwarden/proxy/proxy.hpp"

namespace pgw::admin {

class Monitor {
 public:
  Monitor(const ProxyConfig& cfg, proxy::Proxy& proxy, observe::EventBus& bus,
          observe::Registry& metrics);
  ~Monitor();  // stops the thread
  void start();
  void stop();

  nlohmann::json findings_json() const;
  nlohmann::json alerts_json() const;

 private:
  void run();
  void tick(observe::SystemClock::time_point now);
  void deliver(const observe::AlertNotice& n);

  const ProxyConfig& cfg_;
  proxy::Proxy& proxy_;
  observe::EventBus& bus_;
  // Shared with the bus listener, which may outlive the monitor.
  std::shared_ptr<observe::Forensics> forensics_;
  std::shared_ptr<observe::AlertEngine> alerts_;
  observe::Family<observe::Gauge>& findings_gauge_;
  observe::Family<observe::Gauge>& firing_gauge_;
  observe::Family<observe::Counter>& webhook_failures_;
  std::unique_ptr<observe::AsyncSink> webhook_;  // null without alerts.webhook_url
  std::map<std::string, observe::SystemClock::time_point> sink_down_since_;  // tick() only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pgw::admin
