#pragma once
// A raw PostgreSQL protocol client for tests that must control every message:
// pipelines without Sync, Flush, COPY sub-protocol messages, CancelRequest,
// abrupt departures at any step. Logs in with trust authentication; messages
// are built with pgwarden's wire codec.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgw::test {

struct RawMessage {
  char type = 0;
  std::string body;
};

class RawPg {
 public:
  // Connects to 127.0.0.1:port and logs in (trust); ok() says whether it worked.
  RawPg(int port, const std::string& user, const std::string& database);
  ~RawPg();
  RawPg(const RawPg&) = delete;
  RawPg& operator=(const RawPg&) = delete;

  bool ok() const { return fd_ >= 0 && logged_in_; }
  void send(const std::string& bytes);
  // Reads messages until `count` messages of type `type` have arrived (or the
  // peer closes, or `seconds` pass); returns every message read.
  std::vector<RawMessage> read_until(char type, int count = 1, double seconds = 10);
  // The same, until a message of any of `any_types` arrives.
  std::vector<RawMessage> read_until_any(const std::string& any_types, double seconds = 10);
  // Reads whatever arrives within `seconds` (until the peer closes).
  std::vector<RawMessage> read_for(double seconds);
  // Whether the last read ended because the peer closed the connection.
  bool peer_closed() const { return peer_closed_; }
  // The local TCP port of the connection (what the server sees as the peer's), 0 if none.
  int local_port() const;
  // Closes the socket without a Terminate message: a client that vanishes.
  void vanish();
  // Sends Terminate and closes: a clean logout.
  void terminate();

  // What the login returned (AuthenticationOk ... ReadyForQuery, or the error).
  const std::vector<RawMessage>& greeting() const { return greeting_; }
  // BackendKeyData from the login (0 if none was sent).
  uint32_t backend_pid() const { return backend_pid_; }
  uint32_t cancel_key() const { return cancel_key_; }
  // Sends a CancelRequest with this connection's BackendKeyData over a new
  // connection to the same port, and waits (up to `seconds`) for the server
  // to close that connection. Returns whether the request was written.
  bool cancel(double seconds = 5) const;

  // Message builders for the frontend side.
  static std::string parse(const std::string& name, const std::string& sql);
  static std::string bind(const std::string& portal, const std::string& statement);
  // Bind with text-format parameters (nullopt = NULL).
  static std::string bind(const std::string& portal, const std::string& statement,
                          const std::vector<std::optional<std::string>>& params);
  static std::string execute(const std::string& portal = "", uint32_t max_rows = 0);
  static std::string describe_statement(const std::string& name);
  static std::string describe_portal(const std::string& name);
  static std::string close_statement(const std::string& name);
  static std::string close_portal(const std::string& name);
  static std::string sync();
  static std::string flush();
  static std::string query(const std::string& sql);
  static std::string copy_data(const std::string& data);
  static std::string copy_done();
  static std::string copy_fail(const std::string& message);
  static std::string terminate_message();

 private:
  int port_ = 0;
  int fd_ = -1;
  bool logged_in_ = false;
  bool peer_closed_ = false;
  uint32_t backend_pid_ = 0;
  uint32_t cancel_key_ = 0;
  std::vector<RawMessage> greeting_;
  std::string buf_;

  std::vector<RawMessage> read_messages(const std::string& stop_types, int count, double seconds);
};

// The SQLSTATE of the first ErrorResponse among `msgs`, or "" if none.
std::string first_sqlstate(const std::vector<RawMessage>& msgs);
// The types of `msgs` as a string, e.g. "12CZ".
std::string types(const std::vector<RawMessage>& msgs);
// The values of a DataRow ('D') body (nullopt = NULL); empty if malformed.
std::vector<std::optional<std::string>> row_values(const std::string& body);
// The column names of a RowDescription ('T') body.
std::vector<std::string> column_names(const std::string& body);
// Runs one simple query on `c` and returns its rows (NULL as "NULL"), or
// nullopt with `*error` set to the SQLSTATE when it fails or times out.
std::optional<std::vector<std::vector<std::string>>> simple_rows(RawPg& c, const std::string& sql,
                                                                 std::string* error = nullptr,
                                                                 double seconds = 10);

}  // namespace pgw::test
