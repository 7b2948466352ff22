// A client of the admin console database: authenticated like any client,
// then served by Console instead of a server connection.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <algorithm>

#include "pgwarden/core/version.hpp"
#include "pgwarden/proxy/console.hpp"
#include "pgwarden/proxy/proxy.hpp"
#include "pgwarden/proxy/session.hpp"

namespace pgw::proxy {

using asio::use_awaitable;

namespace {
bool listed(const std::vector<std::string>& users, const std::string& user) {
  return std::find(users.begin(), users.end(), user) != users.end();
}
}  // namespace

asio::awaitable<void> Session::serve_console() {
  const AdminConfig& admin = proxy_.config().admin;
  if (!co_await authenticate()) co_return;
  const bool may_control = listed(admin.admin_users, user_);
  const bool may_show = may_control || listed(admin.stats_users, user_) ||
                        (admin.admin_users.empty() && admin.stats_users.empty());
  if (!may_show) {
    co_await send_fatal_and_close(
        sqlstate::kInvalidAuthorization,
        fmt::format("pgwarden: user \"{}\" may not use the admin console \"{}\" (see "
                    "admin.admin_users and admin.stats_users)",
                    user_, database_),
        "console_denied");
    co_return;
  }
  std::string out;
  wire::auth_ok(out);
  wire::parameter_status(out, "server_version", "15.0 (pgwarden)");
  wire::parameter_status(out, "server_encoding", "UTF8");
  wire::parameter_status(out, "client_encoding", "UTF8");
  wire::parameter_status(out, "DateStyle", "ISO, MDY");
  wire::parameter_status(out, "integer_datetimes", "on");
  wire::parameter_status(out, "standard_conforming_strings", "on");
  wire::parameter_status(out, "application_name", app_name_);
  wire::backend_key_data(out, key_pid_, cancel_secret_);
  wire::ready_for_query(out, 'I');
  set_state(ClientState::idle);  // before the client can see ReadyForQuery
  emit_client_event("client.open");
  co_await client_out_.send(out);

  Console console(proxy_, user_, may_control);
  bool skip_to_sync = false;
  char buf[8192];
  for (;;) {
    wire::Frame f;
    auto st = wire::next_frame(cbuf_, proxy_.config().max_packet_size, f);
    if (st == wire::FrameStatus::bad_length) {
      co_await send_fatal_and_close(sqlstate::kProtocolViolation, "invalid message length",
                                    "protocol_violation");
      co_return;
    }
    if (st == wire::FrameStatus::need_more) {
      size_t n = co_await client_.async_read_some(asio::buffer(buf), use_awaitable);
      bytes_in_ += n;
      last_client_io_ns_.store(SteadyClock::now().time_since_epoch().count());
      cbuf_.append(buf, n);
      continue;
    }
    const char type = f.type;
    std::string body(f.body);
    cbuf_.erase(0, f.size);
    out.clear();
    switch (type) {
      case 'X':
        got_terminate_ = true;
        co_return;
      case 'Q': {
        set_state(ClientState::active);
        ConsoleResult r = console.execute(std::string_view(body.c_str()));
        out = std::move(r.bytes);
        // PAUSE returns once every server connection it waits for is back.
        asio::steady_timer timer(strand_);
        while (std::any_of(r.wait_until_idle.begin(), r.wait_until_idle.end(),
                           [](auto& p) { return p->lent_or_opening() > 0; })) {
          timer.expires_after(std::chrono::milliseconds(50));
          co_await timer.async_wait(use_awaitable);
        }
        if (!r.tag_after_wait.empty()) wire::command_complete(out, r.tag_after_wait);
        wire::ready_for_query(out, 'I');
        set_state(ClientState::idle);
        break;
      }
      case 'S':
        if (skip_to_sync)
          wire::error_response(out, {"ERROR", sqlstate::kFeatureNotSupported,
                                     "pgwarden console: only simple queries are supported"});
        skip_to_sync = false;
        wire::ready_for_query(out, 'I');
        break;
      case 'P':
      case 'B':
      case 'D':
      case 'E':
      case 'C':
      case 'H':
        skip_to_sync = true;
        break;
      default:
        co_await send_fatal_and_close(
            sqlstate::kProtocolViolation,
            fmt::format("invalid frontend message type {}", static_cast<int>(type)),
            "protocol_violation");
        co_return;
    }
    if (!out.empty()) co_await client_out_.send(out);
  }
}

}  // namespace pgw::proxy
