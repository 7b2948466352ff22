#pragma once
// The differential harness: one scripted client session run straight against
// PostgreSQL and through `pgwarden proxy` in session and transaction mode,
// each response stream normalised to a comparable form, the database state
// read afterwards by an observer on the same path. See README.md.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "pg_cluster.hpp"
#include "proxy_process.hpp"
#include "raw_pg.hpp"

namespace pgw::test::diff {

// One action of a script, by one of its clients.
struct Step {
  int client = 0;       // 0 = client "A", 1 = client "B"
  std::string send;     // bytes written as they are (several messages = one write)
  char until = 'Z';     // then read until this message type arrives; '\0': read nothing now
  int count = 1;        // ...this many of them
  bool cancel = false;  // instead of `send`: once `client`'s query is running on the
                        // server, a CancelRequest with its BackendKeyData
  double seconds = 0;   // how long the read may take; 0: the default (5 s)
};

// A session-state difference that transaction pooling is documented to have
// (README.md "Expected differences"): what a step reads in transaction mode.
struct TxnDifference {
  size_t step = 0;
  std::vector<std::string> reads;  // the normalised messages instead of the direct ones
};

struct Script {
  std::string name;
  int clients = 1;
  std::vector<Step> steps;
  // Documented transaction-mode differences and the README.md entry naming them.
  std::string txn_reason;
  // Transaction mode: links its clients keep while idle, pinned by state that
  // cannot move (LISTEN, temporary tables...; docs/configuration.md).
  size_t pinned_links = 0;
  std::vector<TxnDifference> txn_steps;
  // The table in transaction mode once more than `txn_state_after` steps ran,
  // when the documented difference changes what the script writes.
  size_t txn_state_after = static_cast<size_t>(-1);
  std::vector<std::string> txn_state;
  // Notifications per client in transaction mode, when they differ (LISTEN).
  std::vector<std::vector<std::string>> txn_notifications;
  bool txn_notifications_differ = false;
  // A pgwarden bug not fixed yet (README.md "Known bugs" has its reproduction):
  // in these modes the script must still differ from the direct run, so the
  // entry fails (and must go) once the bug is fixed.
  std::string known_bug;
  bool known_bug_session = false;
  bool known_bug_transaction = false;
};

enum class Path { direct, session, transaction };
const char* to_string(Path p);

// Where a run goes: PostgreSQL itself, or a pgwarden proxy in front of it.
struct Target {
  Path path = Path::direct;
  int port = 0;
  const ProxyProcess* proxy = nullptr;  // null for direct
};

// What one run of a script produced.
struct RunResult {
  std::vector<std::vector<std::string>> steps;          // what each step read, normalised
  std::vector<std::vector<std::string>> notifications;  // per client: "A channel payload"
  std::vector<std::string> state;                       // the observer's read of table t
  std::vector<std::string> problems;                    // timeouts, leaks, failed logins
};

// Everything a run needs besides its target: the server, for resets and to
// watch what runs there.
class Harness {
 public:
  // The user, database and table the scripts use.
  static constexpr const char* kUser = "app";
  static constexpr const char* kDatabase = "diff";

  explicit Harness(PgCluster& pg);
  // Creates user, database and table t on a fresh cluster (trust for 127.0.0.1).
  static void prepare_cluster(PgCluster& pg);
  // A [proxy] config body for `pgwarden proxy` in `mode` in front of `pg`.
  static std::string proxy_config(const PgCluster& pg, const std::string& mode);

  // Runs `script`: its clients log in, run steps [0, vanish_after) and then
  // vanish (close their sockets without Terminate), or, with vanish_after =
  // kComplete, run every step and log out with Terminate. Then an observer on
  // the same path reads table t once nothing else runs for the app user.
  static constexpr size_t kComplete = static_cast<size_t>(-1);
  RunResult run(const Target& target, const Script& script, size_t vanish_after = kComplete);

 private:
  void reset(const Target& target);
  std::vector<std::string> read_state(const Target& target, std::vector<std::string>& problems);
  void check_no_leak(const Target& target, bool clients_connected, int expected_active,
                     std::vector<std::string>& problems);
  // Waits until a session of the app user is inside pg_sleep (not merely
  // active: a cancel that lands while the query is still being planned
  // comes before its RowDescription, so the answer would depend on timing).
  bool wait_sleeping(double seconds);

  PgCluster& pg_;
};

// "E ERROR 22012", "C INSERT 0 1", "D 1|one", "T id,note", "Z I", "1", ...;
// "" for messages that legitimately differ between paths (S, K) and for
// notifications, which are kept apart (they are asynchronous).
std::string normalise(const RawMessage& m);
// A readable description of the frontend messages in `bytes`, e.g.
// "P(s1: select 1) B(/s1) E S".
std::string describe(const std::string& bytes);
// A run, one line per step, for failure messages.
std::string render(const Script& script, const RunResult& run);

// What `got` must equal: `direct`, with the script's documented
// transaction-mode differences applied when `path` is transaction mode.
RunResult expected_for(Path path, const Script& script, const RunResult& direct, bool complete);

}  // namespace pgw::test::diff
