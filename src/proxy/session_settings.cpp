// Session state: settings a client changes follow it to every link it lands
// on (in transaction mode each transaction; in session mode a link that
// replaces a lost one), read back from the server by a hidden probe; state
// that cannot move pins the client to its link.
#include <fmt/format.h>

#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/session.hpp"
#include "pgwarden/proxy/session_effects.hpp"

namespace pgw::proxy {

void Session::pin(const char* reason) {
  pinned_for_ = reason;
  // A session-mode client keeps its link anyway: the reason only says that
  // losing the link loses state no other link can be given.
  if (mode_ == PoolMode::session) return;
  observe::ConnectionEvent ev = client_event("client.pinned");
  ev.message = fmt::format(
      "{} is session state that transaction pooling cannot move between server connections: "
      "the client keeps its server connection until it disconnects",
      reason);
  proxy_.bus().publish(ev);
}

bool Session::note_session_effects(std::string_view sql, bool simple_query) {
  const SessionEffects fx = scan_session_effects(sql);
  if (fx.uncarried && !pinned_for_) {
    if (mode_ == PoolMode::transaction &&
        proxy_.config().transaction_session_state == SessionStatePolicy::refuse) {
      refusing_simple_query_ = simple_query;
      refuse_request(sqlstate::kFeatureNotSupported,
                     fmt::format("pgwarden: {} is session state, which transaction pooling cannot "
                                 "carry between server connections (transaction_session_state = "
                                 "\"refuse\"); use a session-mode pool for this client",
                                 fx.uncarried));
      return false;
    }
    pin(fx.uncarried);
  }
  for (auto& name : fx.custom_names) custom_settings_.insert(name);
  if (fx.settings) {
    // Reported as a change when the request completes (in response order,
    // like the server's SET/RESET tags); a simple query's settings are read
    // back right behind it, in the same write.
    if (simple_query)
      probe_after_frame_ = true;
    else
      settings_in_batch_ = true;
  }
  return true;
}

namespace {
// The settings a session changed, as the server holds them now.
// Third column: the variable does not exist (a custom one never set here).
constexpr std::string_view kSettingsProbe =
    "SELECT name, current_setting(name), false FROM pg_settings WHERE source = 'session'";
}  // namespace

void Session::queue_settings_probe(std::string& to_server) {
  if (server_->link.awaits_probe()) return;  // one at a time: a later one follows if needed
  // Custom (dotted) variables are placeholders pg_settings does not list:
  // they are read by the names the client used (NULL when gone).
  std::string sql(kSettingsProbe);
  // Then, in the same statement (UNION ALL runs its parts in order), startup
  // parameters that a RESET took back to the link's login value get the
  // client's startup value again, as PostgreSQL's RESET would have given it;
  // set_config() returns it, and its ParameterStatus reaches the client.
  if (!startup_values_.empty()) {
    sql += " UNION ALL SELECT v.name, set_config(v.name, v.value, false), false FROM (VALUES ";
    const char* sep = "";
    for (const auto& [name, value] : startup_values_) {
      sql += sep;
      sql += "(" + quote_literal(name) + ", " + quote_literal(value) + ")";
      sep = ", ";
    }
    sql +=
        ") AS v(name, value) JOIN pg_settings AS s ON lower(s.name) = v.name WHERE s.source <> "
        "'session' AND s.setting IS DISTINCT FROM v.value";
  }
  for (const auto& name : custom_settings_)
    sql += " UNION ALL SELECT " + quote_literal(name) + ", current_setting(" + quote_literal(name) +
           ", true), current_setting(" + quote_literal(name) + ", true) IS NULL";
  wire::query(to_server, sql);
  send_to_server({wire::LinkRequest::probe});
  probe_rows_.clear();
}

void Session::apply_settings_probe() {
  // The link holds its login values plus exactly these; the client expects
  // these wherever it goes next.
  ParamMap session_values;
  for (auto& [k, v] : probe_rows_) session_values[k] = v;
  ParamMap link = server_->defaults;
  for (auto& [k, v] : session_values) link[k] = v;
  server_->params = std::move(link);
  for (auto it = wanted_.begin(); it != wanted_.end();) {
    if (!session_values.count(it->first) && !is_tracked_reported_param(it->first))
      it = wanted_.erase(it);
    else
      ++it;
  }
  for (auto& [k, v] : session_values) wanted_[k] = v;
  // Every change reported so far ran before the probe on the server.
  settings_dirty_ = false;
  settings_unread_ = false;
}

bool Session::may_release_link() const {
  return mode_ == PoolMode::transaction && server_->link.idle() && !pinned_for_ && !settings_dirty_;
}

}  // namespace pgw::proxy
