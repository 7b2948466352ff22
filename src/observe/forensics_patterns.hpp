#pragma once
// The detectors behind Forensics::evaluate(), one file per family. Each reads
// the window (events in arrival order, held under the Forensics mutex) and
// returns findings whose evidence make_finding() filled in.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pgwarden/core/config.hpp"
#include "pgwarden/observe/forensics.hpp"

namespace pgw::observe::forensics {

using Events = std::vector<const ObservedEvent*>;

bool is_close(const ObservedEvent& e);
bool initiated_by_server_or_network(const ObservedEvent& e);

// kind plus the evidence of `members`: count, first/last, up to 10 conn ids,
// causes, and pool/application_name/backend where every member agrees.
Finding make_finding(std::string kind, const Events& members);

// "350 s", "0.4 s"
std::string seconds_text(double seconds);
// "2026-11-27T03:04:05Z"
std::string utc_second(SystemClock::time_point tp);
// "server_eof×3, peer_reset×2", most frequent first
std::string counts_text(const std::map<std::string, uint64_t>& counts);

struct Sample {
  double ms;
  size_t index;  // the event's position in whatever the caller clusters
};
struct Cluster {
  std::vector<size_t> indices;  // into the candidates' source, as given in Sample::index
  double median_ms;
};
// Values within ±max(1 s, 5%) of their median, at least `min_count` of them,
// a median of 1 s or more, and at least `min_share` of all samples (so a
// scatter never looks like a cluster by chance). Up to three, densest first.
std::vector<Cluster> find_clusters(std::vector<Sample> samples, size_t min_count, double min_share);

// Server- or network-initiated closes of distinct connections, at least
// burst_min in some burst_window; overlapping spans form one burst.
std::vector<Events> find_bursts(const Events& window, const ForensicsConfig& cfg);
Finding burst_finding(const Events& members);

// "10.0.0.7" of "10.0.0.7:41000", "::1" of "[::1]:41000"; "" when unknown.
std::string peer_host(const std::string& peer);

// Runs of client closes of one peer host, all within a moment: its process
// exited. Each run holds at least min_count closes.
std::vector<Events> find_client_exits(const Events& window, const ForensicsConfig& cfg);
Finding client_exit_finding(const Events& members);

// The idle age (its median) that at least `min_share` of the events share.
std::optional<double> shared_idle_ms(const Events& events, double min_share);

// Skips `excluded` window indices; marks the ones each idle cut explains.
std::vector<Finding> find_idle_cuts(const Events& window, const std::vector<bool>& excluded,
                                    const ForensicsConfig& cfg, std::vector<bool>& explained);
std::vector<Finding> find_fixed_ages(const Events& window, const std::vector<bool>& excluded,
                                     const ForensicsConfig& cfg);

// pool_exhaustion, max_connections, idle_in_transaction, idle_session, server_terminated
std::vector<Finding> find_refusals_and_kills(const Events& window, const ForensicsConfig& cfg);

}  // namespace pgw::observe::forensics
