// client_exit: every client connection of one peer closed in one moment —
// the app's process exited or was stopped (zero-cache stopped, a deploy, a
// crash of the app). Nothing cut them, so their idle and connection ages are
// no evidence of an idle cut or a lifetime.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "forensics_patterns.hpp"

namespace pgw::observe::forensics {

namespace {

// A process that exits closes all its sockets within a few ms (its pools
// end them in one pass, or the kernel closes them at exit); 100 ms leaves
// room for a loaded host without joining unrelated logouts.
constexpr auto kExitSpan = std::chrono::milliseconds(100);

// An exiting process says goodbye with Terminate (a pool's end()) or FIN
// (the kernel closing its sockets). A reset is a middlebox's signature, and
// connections that went idle together are reset together: those stay idle
// cut evidence.
bool exit_close(const ObservedEvent& e) {
  return e.side == "client" && is_close(e) && e.initiator == "client" && !e.peer_host.empty() &&
         (e.cause == "client_eof" || e.cause == "client_terminate");
}

}  // namespace

std::string peer_host(const std::string& peer) {
  if (peer.starts_with('[')) {
    auto end = peer.find(']');
    return end == std::string::npos ? peer : peer.substr(1, end - 1);
  }
  return peer.substr(0, peer.rfind(':'));
}

std::vector<Events> find_client_exits(const Events& window, const ForensicsConfig& cfg) {
  std::map<std::string, Events> by_peer;
  for (const ObservedEvent* e : window) {
    if (exit_close(*e)) by_peer[e->peer_host].push_back(e);
  }
  const auto min_count = static_cast<size_t>(std::max(cfg.min_count, 1));
  std::vector<Events> exits;
  for (auto& [host, closes] : by_peer) {
    std::stable_sort(closes.begin(), closes.end(),
                     [](const ObservedEvent* a, const ObservedEvent* b) { return a->ts < b->ts; });
    for (size_t b = 0; b < closes.size();) {
      size_t e = b + 1;
      while (e < closes.size() && closes[e]->ts - closes[b]->ts <= kExitSpan) ++e;
      if (e - b >= min_count)
        exits.emplace_back(closes.begin() + static_cast<std::ptrdiff_t>(b),
                           closes.begin() + static_cast<std::ptrdiff_t>(e));
      b = e;
    }
  }
  return exits;
}

Finding client_exit_finding(const Events& members) {
  Finding f = make_finding("client_exit", members);
  f.peer = members.front()->peer_host;
  f.value = static_cast<double>(f.count);
  const std::string at = utc_second(f.first);
  f.key = "client_exit/" + f.peer + "/" + at;
  const auto span_ms = std::chrono::duration_cast<std::chrono::milliseconds>(f.last - f.first);
  const std::string app =
      f.application_name.empty() ? "" : " (application " + f.application_name + ")";
  f.summary = fmt::format(
      "{} client connections from {}{} closed within {} ms at {} ({}): the app's process exited "
      "or was stopped; nothing cut them.",
      f.count, f.peer, app, span_ms.count(), at, counts_text(f.causes));
  f.fix = fmt::format(
      "If the app on {} was stopped or redeployed at {}, nothing is wrong; otherwise look in the "
      "app's own log (and its supervisor's: exit code, OOM kill, uncaught exception) for why it "
      "exited then.",
      f.peer, at);
  return f;
}

}  // namespace pgw::observe::forensics
