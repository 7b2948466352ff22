#pragma once
// The fault-injecting TCP relay behind `pgwarden faults`: named proxies, each
// listening on an address and relaying every connection to its upstream
// through the toxics of each direction (toxics.hpp). Every fault a connection
// meets is published on the event bus (source "faults") and counted in the
// metrics registry. No HTTP here: src/admin/faults_api.cpp serves the
// Toxiproxy-compatible API on top of these calls.
//
// Threads: the relay runs one io_context on its own thread and owns all of
// its state there; the public calls are thread-safe (each runs its work on
// that thread and waits for it) and throw FaultError.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pgwarden/faults/toxics.hpp"

namespace pgw::observe {
class EventBus;
class Registry;
}  // namespace pgw::observe

namespace pgw::faults {

struct ProxySpec {
  std::string name;
  std::string listen = "127.0.0.1:0";  // port 0: any free port (the bound one is reported)
  std::string upstream;
  bool enabled = true;
};

struct ProxyView {
  ProxySpec spec;                 // listen: the address bound while enabled
  std::vector<ToxicSpec> toxics;  // upstream ones, then downstream ones, each in order added
};

class FaultError : public std::runtime_error {
 public:
  enum class Kind {
    proxy_not_found,
    proxy_exists,
    toxic_not_found,
    toxic_exists,
    bad_request,
    failed
  };
  FaultError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

class Relay {
 public:
  // `seed` 0: seeded from std::random_device.
  Relay(observe::EventBus& bus, observe::Registry& metrics, uint64_t seed = 0);
  ~Relay();  // stop()
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void start();
  // Closes every listener and connection and joins the thread.
  void stop();

  std::vector<ProxyView> proxies() const;  // by name
  ProxyView proxy(const std::string& name) const;
  // Adds a proxy with its toxics (checked by check_toxic) and listens if
  // enabled, before any connection can arrive.
  ProxyView create(const ProxySpec& spec, std::vector<ToxicSpec> toxics = {});
  // A new listen or upstream restarts the proxy (its connections close);
  // disabling closes the listener and every connection.
  ProxyView update(const std::string& name, const ProxySpec& spec);
  void remove(const std::string& name);
  // Creates the proxies missing, recreates those whose listen or upstream
  // differ, leaves the rest; returns them in the order given.
  std::vector<ProxyView> populate(const std::vector<ProxySpec>& specs);
  // Enables every proxy and removes every toxic.
  void reset();

  ToxicSpec toxic(const std::string& proxy, const std::string& name) const;
  ToxicSpec add_toxic(const std::string& proxy, ToxicSpec spec);
  // Replaces the attributes and toxicity of a toxic (name, type, stream kept).
  ToxicSpec update_toxic(const std::string& proxy, const ToxicSpec& spec);
  // Removing a timeout toxic closes the connections it held (their data is lost).
  void remove_toxic(const std::string& proxy, const std::string& name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgw::faults
