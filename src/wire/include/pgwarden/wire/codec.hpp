#pragma once
// PostgreSQL protocol v3 framing and message codecs. Pure: no sockets, no
// clocks. Builders append to a std::string; parsers read string_views and
// never throw on hostile input (they return false / an error status).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgw::wire {

inline uint32_t read_u32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}
inline uint16_t read_u16(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((b[0] << 8) | b[1]);
}
void put_u32(std::string& out, uint32_t v);
void put_u16(std::string& out, uint16_t v);

// One typed message: 1 type byte + int32 length (which counts itself) + body.
struct Frame {
  char type = 0;
  std::string_view body;
  size_t size = 0;  // bytes the whole frame occupies in the buffer
};

enum class FrameStatus { ok, need_more, bad_length };

// Extracts the first frame of `buf`. bad_length: the length word is below 4
// or above `max_len` (a corrupt or hostile stream; the connection must end).
FrameStatus next_frame(std::string_view buf, uint32_t max_len, Frame& out);

// ---- startup phase (untyped packets) ----
inline constexpr uint32_t kProtocol3 = 196608;  // 3.0
inline constexpr uint32_t kSslRequest = 80877103;
inline constexpr uint32_t kGssEncRequest = 80877104;
// The ALPN protocol name PostgreSQL 17 clients offer in their TLS handshake
// (required for a direct TLS connection, one without SSLRequest).
inline constexpr const char* kAlpnProtocol = "postgresql";
// A TLS record starts with this byte (a handshake record); a startup packet's
// length never does, so it tells a direct TLS connection from the protocol.
inline constexpr unsigned char kTlsHandshakeRecord = 0x16;
inline constexpr uint32_t kCancelRequest = 80877102;
// PostgreSQL's own limit for a startup packet (MAX_STARTUP_PACKET_LENGTH).
inline constexpr uint32_t kMaxStartupPacket = 10000;

enum class StartupKind { startup, ssl_request, gss_request, cancel };
struct StartupPacket {
  StartupKind kind = StartupKind::startup;
  uint32_t version = 0;
  std::vector<std::pair<std::string, std::string>> params;
  uint32_t cancel_pid = 0;
  uint32_t cancel_key = 0;
  const std::string* param(std::string_view key) const;
};
enum class StartupStatus { ok, need_more, bad_length, unsupported_version, malformed };
struct StartupResult {
  StartupStatus status = StartupStatus::need_more;
  size_t consumed = 0;
  std::string error;  // human-readable for the ErrorResponse when not ok/need_more
};
StartupResult parse_startup(std::string_view buf, StartupPacket& out);

// ---- builders (backend → frontend) ----
struct ErrorFields {
  std::string severity;  // ERROR, FATAL, PANIC, WARNING, NOTICE, ...
  std::string sqlstate;
  std::string message;
  std::string detail;
  std::string hint;
};
void error_response(std::string& out, const ErrorFields& e);
void notice_response(std::string& out, const ErrorFields& e);
void auth_ok(std::string& out);
void auth_cleartext(std::string& out);
void auth_md5(std::string& out, const char salt[4]);
void auth_sasl(std::string& out, std::string_view mechanism);
void auth_sasl_continue(std::string& out, std::string_view data);
void auth_sasl_final(std::string& out, std::string_view data);
void parameter_status(std::string& out, std::string_view key, std::string_view value);
void backend_key_data(std::string& out, uint32_t pid, uint32_t key);
void ready_for_query(std::string& out, char status);
void parse_complete(std::string& out);
void close_complete(std::string& out);

// Result sets the proxy produces itself (the admin console).
inline constexpr uint32_t kInt8Oid = 20;
inline constexpr uint32_t kTextOid = 25;
struct Column {
  std::string name;
  uint32_t type_oid = kTextOid;
};
void row_description(std::string& out, const std::vector<Column>& columns);
void data_row(std::string& out,
              const std::vector<std::optional<std::string>>& values);  // nullopt = NULL
void command_complete(std::string& out, std::string_view tag);

// ---- builders (frontend → backend) ----
void startup_message(std::string& out,
                     const std::vector<std::pair<std::string, std::string>>& params);
void cancel_request(std::string& out, uint32_t pid, uint32_t key);
void query(std::string& out, std::string_view sql);
void terminate(std::string& out);
void password_message(std::string& out, std::string_view password);
void sasl_initial_response(std::string& out, std::string_view mechanism, std::string_view data);
void sasl_response(std::string& out, std::string_view data);
void sync(std::string& out);
// Parse with a new statement name and the original query + parameter types.
void parse(std::string& out, std::string_view name, std::string_view query_and_types);
void close_statement(std::string& out, std::string_view name);

// ---- parsers ----
bool parse_error_fields(std::string_view body, ErrorFields& out);
bool parse_parameter_status(std::string_view body, std::string_view& key, std::string_view& value);
// Authentication request: code, and the bytes after it.
bool parse_auth_request(std::string_view body, uint32_t& code, std::string_view& data);
bool parse_backend_key_data(std::string_view body, uint32_t& pid, uint32_t& key);
// DataRow ('D') as text columns; NULL reads as "". A truncated row yields the
// columns that are complete.
std::vector<std::string> parse_data_row(std::string_view body);

// Parse ('P'): name, then the rest (query\0 + int16 n + n*int32 types) verbatim.
struct ParseView {
  std::string_view name;
  std::string_view rest;   // query\0 + types: identical text prepares the identical statement
  std::string_view query;  // for logs/metrics only
};
bool parse_parse(std::string_view body, ParseView& out);
// Bind ('B'): portal and statement names; `after_stmt` is everything after the
// statement name's terminator, to rebuild the message with a new name.
struct BindView {
  std::string_view portal;
  std::string_view statement;
  std::string_view after_stmt;
};
bool parse_bind(std::string_view body, BindView& out);
// Describe ('D') / Close ('C'): 'S' or 'P' and the name.
bool parse_target(std::string_view body, char& kind, std::string_view& name);
void bind(std::string& out, std::string_view portal, std::string_view statement,
          std::string_view after_stmt);
void describe(std::string& out, char kind, std::string_view name);
void execute(std::string& out, std::string_view portal, uint32_t max_rows = 0);
void flush(std::string& out);

// Reads a NUL-terminated string at `pos`; advances pos past the NUL.
bool read_cstring(std::string_view body, size_t& pos, std::string_view& out);

}  // namespace pgw::wire
