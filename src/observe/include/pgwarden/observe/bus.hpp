#pragma once
// Where events go: every publish() reaches each sink and the in-memory
// counters the proxy prints and serves. Thread-safe; events are rare compared
// with queries (one per connection step), so a mutex is cheap enough.
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "pgwarden/observe/event.hpp"

namespace pgw::observe {

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void write(const ConnectionEvent& e, const std::string& json) = 0;
};

// JSON lines to a FILE* (stdout, or a file it owns).
class JsonLinesSink : public EventSink {
 public:
  static std::unique_ptr<JsonLinesSink> to_stdout();
  static std::unique_ptr<JsonLinesSink> to_file(const std::string& path);  // throws
  ~JsonLinesSink() override;
  void write(const ConnectionEvent& e, const std::string& json) override;

 private:
  JsonLinesSink(FILE* f, bool owned) : file_(f), owned_(owned) {}
  FILE* file_;
  bool owned_;
};

struct CloseKey {
  std::string side, initiator, cause;
  auto operator<=>(const CloseKey&) const = default;
};

class EventBus {
 public:
  void add_sink(std::unique_ptr<EventSink> sink);
  void publish(const ConnectionEvent& e);

  std::map<CloseKey, uint64_t> close_counts() const;
  std::map<std::string, uint64_t> event_counts() const;
  std::vector<ConnectionEvent> recent(size_t max) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<EventSink>> sinks_;
  std::map<CloseKey, uint64_t> closes_;
  std::map<std::string, uint64_t> events_;
  std::deque<ConnectionEvent> recent_;
};

}  // namespace pgw::observe
