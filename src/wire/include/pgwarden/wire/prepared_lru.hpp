#pragma once
// Which pgwarden-named prepared statements exist on one server connection,
// bounded like PgBouncer's max_prepared_statements: least recently used first out.
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

namespace pgw::wire {

class PreparedLru {
 public:
  bool contains(uint64_t id) const { return index_.count(id) != 0; }
  void touch(uint64_t id) {
    auto it = index_.find(id);
    if (it != index_.end()) order_.splice(order_.begin(), order_, it->second);
  }
  // Inserts `id`; returns the id evicted to stay within `capacity`, if any.
  std::optional<uint64_t> insert(uint64_t id, size_t capacity) {
    if (contains(id)) {
      touch(id);
      return std::nullopt;
    }
    order_.push_front(id);
    index_[id] = order_.begin();
    if (capacity > 0 && order_.size() > capacity) {
      uint64_t victim = order_.back();
      order_.pop_back();
      index_.erase(victim);
      return victim;
    }
    return std::nullopt;
  }
  void erase(uint64_t id) {
    auto it = index_.find(id);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }
  void clear() {
    order_.clear();
    index_.clear();
  }
  size_t size() const { return order_.size(); }
  // The least recently used id for which `eligible(id)` holds, if any.
  template <class Pred>
  std::optional<uint64_t> least_recent(Pred eligible) const {
    for (auto it = order_.rbegin(); it != order_.rend(); ++it)
      if (eligible(*it)) return *it;
    return std::nullopt;
  }

 private:
  std::list<uint64_t> order_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
};

}  // namespace pgw::wire
