#include "pgwarden/observe/bus.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pgw::observe {

std::unique_ptr<JsonLinesSink> JsonLinesSink::to_stdout() {
  return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(stdout, false));
}

std::unique_ptr<JsonLinesSink> JsonLinesSink::to_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "a");
  if (!f) throw std::runtime_error("cannot open event file " + path + ": " + std::strerror(errno));
  return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(f, true));
}

JsonLinesSink::~JsonLinesSink() {
  if (owned_) std::fclose(file_);
}

void JsonLinesSink::write(const ConnectionEvent&, const std::string& json) {
  std::fwrite(json.data(), 1, json.size(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

void EventBus::add_sink(std::unique_ptr<EventSink> sink) {
  std::lock_guard lock(mu_);
  sinks_.push_back(std::move(sink));
}

void EventBus::publish(const ConnectionEvent& e) {
  std::string json = to_json(e);
  std::lock_guard lock(mu_);
  events_[e.event]++;
  if (e.event.ends_with(".close")) closes_[{e.side, e.initiator, e.cause}]++;
  recent_.push_back(e);
  if (recent_.size() > 1000) recent_.pop_front();
  for (auto& s : sinks_) s->write(e, json);
}

std::map<CloseKey, uint64_t> EventBus::close_counts() const {
  std::lock_guard lock(mu_);
  return closes_;
}

std::map<std::string, uint64_t> EventBus::event_counts() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::vector<ConnectionEvent> EventBus::recent(size_t max) const {
  std::lock_guard lock(mu_);
  size_t n = std::min(max, recent_.size());
  return {recent_.end() - static_cast<long>(n), recent_.end()};
}

}  // namespace pgw::observe
