#pragma once
// Protocol-level prepared statements in transaction mode: every distinct
// (query text, parameter types) gets one id for the proxy's lifetime, and is
// prepared on a server connection under the name "pgw_<id>". Clients keep
// their own names; the session maps them to ids.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pgw::proxy {

class StatementRegistry {
 public:
  uint64_t id_for(std::string_view query_and_types) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = ids_.try_emplace(std::string(query_and_types), next_ + 1);
    if (inserted) ++next_;
    return it->second;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return ids_.size();
  }
  static std::string server_name(uint64_t id) { return "pgw_" + std::to_string(id); }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint64_t> ids_;
  uint64_t next_ = 0;
};

}  // namespace pgw::proxy
