#pragma once
// A raw PostgreSQL protocol client for tests that must control every message:
// pipelines without Sync, Flush, abrupt departures at any step. Logs in with
// trust authentication; messages are built with pgwarden's wire codec.
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
  // Closes the socket without a Terminate message: a client that vanishes.
  void vanish();

  // Message builders for the frontend side.
  static std::string parse(const std::string& name, const std::string& sql);
  static std::string bind(const std::string& portal, const std::string& statement);
  static std::string execute(const std::string& portal = "");
  static std::string close_statement(const std::string& name);
  static std::string describe_statement(const std::string& name);
  static std::string sync();
  static std::string flush();
  static std::string query(const std::string& sql);

 private:
  int fd_ = -1;
  bool logged_in_ = false;
  std::string buf_;
};

// The SQLSTATE of the first ErrorResponse among `msgs`, or "" if none.
std::string first_sqlstate(const std::vector<RawMessage>& msgs);
// The types of `msgs` as a string, e.g. "12CZ".
std::string types(const std::vector<RawMessage>& msgs);

}  // namespace pgw::test
