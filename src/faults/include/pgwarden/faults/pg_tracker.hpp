#pragma once
// Follows a PostgreSQL connection through the relay from the bytes it
// forwards, without holding them: the login, the transaction status of the
// last ReadyForQuery, and whether a query is waiting for its answer. What the
// PostgreSQL-aware toxics decide from. Pure: no sockets, no clock.
#include <cstdint>
#include <string>
#include <string_view>

namespace pgw::faults {

class PgTracker {
 public:
  // startup: before the client's StartupMessage; login: authentication until
  // the first ReadyForQuery; ready: logged in; opaque: TLS or GSS encryption
  // was accepted, a cancel request, or bytes that are not PostgreSQL v3.
  enum class Phase { startup, login, ready, opaque };

  void from_client(std::string_view bytes);
  void from_server(std::string_view bytes);

  Phase phase() const { return phase_; }
  // 'I', 'T' or 'E' from the last ReadyForQuery; 0 before the first.
  char transaction_status() const { return status_; }
  bool in_transaction() const { return status_ == 'T' || status_ == 'E'; }
  // Queries (Query, Sync, FunctionCall) sent whose ReadyForQuery has not come back.
  int queries_in_flight() const { return in_flight_; }
  // The server sent CopyBothResponse: a replication stream (START_REPLICATION) runs.
  bool replication_streaming() const { return streaming_; }
  // The startup packet's user and database.
  const std::string& user() const { return user_; }
  const std::string& database() const { return database_; }

 private:
  // A typed-message stream read header by header; bodies are skipped.
  struct Frames {
    char header[5] = {};
    size_t have = 0;          // header bytes so far
    uint64_t skip = 0;        // body bytes still to pass
    bool want_first = false;  // the body's first byte is wanted (ReadyForQuery)
  };
  template <class OnFrame>
  bool feed(Frames& f, std::string_view bytes, OnFrame&& on_frame);

  Phase phase_ = Phase::startup;
  std::string startup_;          // the client's untyped startup packet(s) so far
  bool ssl_answer_due_ = false;  // the server's next byte answers an SSLRequest/GSSENCRequest
  Frames client_, server_;
  char status_ = 0;
  int in_flight_ = 0;
  bool streaming_ = false;
  std::string user_, database_;
};

}  // namespace pgw::faults
