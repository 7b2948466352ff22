#pragma once
// A failure that ends a request or a connection, already carrying what the
// client must be told (SQLSTATE + message) and what the event records (cause).
#include <stdexcept>
#include <string>

namespace pgw {

struct ProxyError : std::runtime_error {
  ProxyError(std::string sqlstate_, std::string message_, std::string cause_,
             std::string initiator_ = "proxy", int err_no_ = 0, std::string detail_ = {})
      : std::runtime_error(message_),
        sqlstate(std::move(sqlstate_)),
        message(std::move(message_)),
        cause(std::move(cause_)),
        initiator(std::move(initiator_)),
        err_no(err_no_),
        detail(std::move(detail_)) {}
  std::string sqlstate;
  std::string message;
  std::string cause;
  std::string initiator;
  int err_no;
  std::string detail;
};

// SQLSTATEs pgwarden itself sends (docs/events.md lists when).
namespace sqlstate {
inline constexpr const char* kProtocolViolation = "08P01";
inline constexpr const char* kConnectionFailure = "08006";
inline constexpr const char* kCannotConnect = "08001";
inline constexpr const char* kTooManyConnections = "53300";
inline constexpr const char* kInsufficientResources = "53000";
inline constexpr const char* kQueryCanceled = "57014";
inline constexpr const char* kIdleSessionTimeout = "57P05";
inline constexpr const char* kIdleInTransactionTimeout = "25P03";
inline constexpr const char* kAdminShutdown = "57P01";
inline constexpr const char* kCannotConnectNow = "57P03";
inline constexpr const char* kInvalidPassword = "28P01";
inline constexpr const char* kInvalidAuthorization = "28000";
inline constexpr const char* kInvalidCatalogName = "3D000";
inline constexpr const char* kFeatureNotSupported = "0A000";
inline constexpr const char* kDuplicatePreparedStatement = "42P05";
}  // namespace sqlstate

}  // namespace pgw
