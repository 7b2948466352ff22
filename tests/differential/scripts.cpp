#include "scripts.hpp"

namespace pgw::test::diff {

namespace {
using R = RawPg;

// A simple query by client `c`, read until its ReadyForQuery.
Step Q(const std::string& sql, int c = 0) {
  return {c, R::query(sql), 'Z', 1};
}
// Raw messages by client `c`, read until `count` messages of type `until`.
Step X(std::string bytes, char until = 'Z', int count = 1, int c = 0) {
  return {c, std::move(bytes), until, count};
}
// A CancelRequest for client `c`'s running query, then its answer.
Step Cancel(int c = 0) {
  Step s{c, "", 'Z', 1};
  s.cancel = true;
  return s;
}
std::string P(const std::string& name, const std::string& sql) {
  return R::parse(name, sql);
}
std::string B(const std::string& portal = "", const std::string& stmt = "",
              const std::vector<std::optional<std::string>>& params = {}) {
  return R::bind(portal, stmt, params);
}
std::string E(const std::string& portal = "", uint32_t max_rows = 0) {
  return R::execute(portal, max_rows);
}
std::string S() {
  return R::sync();
}
std::string H() {
  return R::flush();
}
std::string d(const std::string& data) {
  return R::copy_data(data);
}
std::string c() {
  return R::copy_done();
}
}  // namespace

std::vector<Script> simple_scripts() {
  std::vector<Script> v;
  v.push_back({.name = "simple_queries",
               .steps = {
                   Q("select id, note from t order by id"),
                   Q("insert into t values (10, 'ten')"),
                   Q("update t set note = 'uno' where id = 1"),
                   Q(""),
                   Q("insert into t values (11, 'a'); select 1/0; insert into t values (12, 'b')"),
                   Q("begin; insert into t values (13, 'c'); commit"),
                   Q("select 1 as a; select 2 as b"),
                   Q("select * from no_such_table"),
                   Q("delete from t where id = 2 returning id, note"),
               }});
  v.push_back({.name = "simple_transactions",
               .steps = {
                   Q("begin"),
                   Q("insert into t values (20, 'x')"),
                   Q("savepoint s1"),
                   Q("insert into t values (1, 'dup')"),
                   Q("rollback to s1"),
                   Q("insert into t values (21, 'y')"),
                   Q("commit"),
                   Q("begin; insert into t values (22, 'z')"),
                   Q("select 1/0"),
                   Q("select 1"),
                   Q("commit"),
                   Q("start transaction isolation level serializable read only"),
                   Q("insert into t values (23, 'ro')"),
                   Q("rollback"),
               }});
  v.push_back({.name = "simple_errors_and_notices",
               .steps = {
                   Q("do $$ begin raise notice 'hello'; raise warning 'careful'; end $$"),
                   Q("select 1/0"),
                   Q("insert into t values (1, 'dup')"),
                   Q("insert into t values (4, 'four') returning id"),
                   Q("do $$ begin raise exception using errcode = 'P0042', message = 'custom'; "
                     "end $$"),
                   Q("begin; insert into t values (5, 'five'); select 1/0; commit"),
                   Q("select 'still here'"),
               }});
  return v;
}

std::vector<Script> extended_scripts() {
  std::vector<Script> v;
  v.push_back(
      {.name = "extended_named_statements",
       .steps = {
           X(P("", "select id, note from t where id = $1") + B("", "", {"2"}) +
             R::describe_portal("") + E() + S()),
           X(P("s1", "insert into t values ($1, $2)") + S()),
           X(B("", "s1", {"30", "thirty"}) + E() + S()),
           X(R::describe_statement("s1") + S()),
           X(B("", "s1", {"31", "x"}) + E() + B("", "s1", {"32", std::nullopt}) + E() + S()),
           X(R::close_statement("s1") + S()),
           X(B("", "s1", {"33", "z"}) + E() + S()),
           X(R::close_statement("never_prepared") + S()),
           X(B("", "s1", {"34"}) + E() + S()),
       }});
  v.push_back({.name = "extended_unnamed_statement",
               .steps = {
                   X(P("", "select $1::int + 1 as n") + B("", "", {"41"}) + E() + S()),
                   X(B("", "", {"1"}) + E() + S()),
                   X(R::describe_statement("") + S()),
                   X(P("", "select 'replaced'") + S()),
                   X(B() + E() + S()),
                   X(B("", "", {"1"}) + E() + S()),
               }});
  v.push_back(
      {.name = "extended_portals",
       .steps = {
           Q("begin"),
           X(P("ps", "select id from t order by id") + B("cur", "ps") + E("cur", 1) + H(), 's'),
           X(E("cur", 1) + H(), 's'),
           X(R::describe_portal("cur") + E("cur", 0) + S()),
           X(E("cur", 1) + S()),
           Q("commit"),
           X(P("", "select id from t order by id") + B() + E("", 2) + H(), 's'),
           X(E("", 2) + S()),
           X(E("", 1) + S()),
           X(B("p2", "ps") + E("p2", 1) + S()),
           X(E("p2", 1) + S()),
           X(B("p3", "ps") + R::close_portal("p3") + E("p3") + S()),
       }});
  return v;
}

std::vector<Script> pipeline_scripts() {
  std::vector<Script> v;
  // One Sync is one implicit transaction: an error anywhere in it rolls back
  // what ran before it, and PostgreSQL skips everything up to the Sync.
  v.push_back({.name = "pipeline_error_in_parse",
               .steps = {
                   X(P("", "insert into t values (40, 'a')") + B() + E() + P("", "selec 1") + B() +
                     E() + S()),
                   X(P("", "insert into t values (41, 'b')") + B() + E() + S()),
                   X(P("", "selec 1") + S()),
               }});
  v.push_back({.name = "pipeline_error_in_bind",
               .steps = {
                   X(P("s2", "select $1::int") + S()),
                   X(P("", "insert into t values (42, 'a')") + B() + E() +
                     B("", "s2", {"not a number"}) + E() + S()),
                   X(B("", "s2", {"7"}) + E() + S()),
                   X(B("", "s2", {"1", "2"}) + E() + S()),
               }});
  v.push_back({.name = "pipeline_error_in_execute",
               .steps = {
                   X(P("", "insert into t values (43, 'a')") + B() + E() + S() +
                         P("", "insert into t values (1, 'dup')") + B() + E() + S() +
                         P("", "insert into t values (44, 'b')") + B() + E() + S(),
                     'Z', 3),
                   X(P("", "insert into t values (45, 'c')") + B() + E() +
                     P("", "select 10 / (id - 1) from t order by id") + B() + E() + S()),
               }});
  v.push_back({.name = "pipeline_named_parse_around_error",
               .steps = {
                   X(P("before", "select 'before'") + B("", "before") + E() + P("", "select 1/0") +
                     B() + E() + P("after", "select 'after'") + B("", "after") + E() + S()),
                   X(B("", "before") + E() + S()),
                   X(B("", "after") + E() + S()),
                   X(P("after", "select 'after again'") + B("", "after") + E() + S()),
                   X(P("", "selec") + P("after2", "select 'x'") + S()),
                   X(B("", "after2") + E() + S()),
               }});
  v.push_back({.name = "pipeline_in_transaction_block",
               .steps = {
                   X(P("", "begin") + B() + E() + P("", "insert into t values (46, 'a')") + B() +
                     E() + S()),
                   X(P("", "insert into t values (1, 'dup')") + B() + E() + S()),
                   X(P("", "select 1") + B() + E() + S()),
                   X(P("", "rollback") + B() + E() + S()),
                   X(P("", "begin") + B() + E() + P("", "insert into t values (47, 'b')") + B() +
                     E() + P("", "commit") + B() + E() + S()),
               }});
  v.push_back({.name = "pipeline_flush",
               .steps = {
                   X(P("", "insert into t values (48, 'a')") + B() + E() + H(), 'C'),
                   X(P("f", "select count(*) from t") + B("", "f") + E() + H(), 'C'),
                   X(S()),
                   X(P("", "insert into t values (49, 'b')") + B() + E() + H(), 'C'),
                   X(P("", "selec") + H(), 'E'),
                   X(S()),
               }});
  return v;
}

std::vector<Script> copy_scripts() {
  std::vector<Script> v;
  v.push_back({.name = "copy_in_simple",
               .steps = {
                   X(R::query("copy t from stdin"), 'G'),
                   X(d("50\tfifty\n") + d("51\t\\N\n52\tx\n") + c()),
                   Q("select count(*) from t"),
               }});
  v.push_back({.name = "copy_out_simple",
               .steps = {
                   Q("copy (select id, note from t order by id) to stdout"),
                   Q("copy t to stdout with (format csv, header)"),
                   Q("copy (select 1/0) to stdout"),
               }});
  v.push_back({.name = "copy_fail_simple",
               .steps = {
                   X(R::query("copy t from stdin"), 'G'),
                   X(d("53\ta\n") + R::copy_fail("client gave up")),
                   Q("select count(*) from t"),
               }});
  v.push_back({.name = "copy_error_mid_simple",
               .steps = {
                   X(R::query("copy t from stdin"), 'G'),
                   X(d("54\ta\n") + d("not a number\tb\n") + d("55\tc\n") + c()),
                   X(R::query("copy t from stdin"), 'G'),
                   X(d("56\ta\n") + d("1\tdup\n") + c()),
                   X(R::query("begin; copy t from stdin"), 'G'),
                   X(d("57\ta\n") + c()),
                   Q("commit"),
               }});
  // Extended protocol, the client flushes and waits for CopyInResponse
  // before it sends data; the Sync comes after CopyDone.
  v.push_back({.name = "copy_in_extended_flush",
               .steps = {
                   X(P("", "copy t from stdin") + B() + E() + H(), 'G'),
                   X(d("60\ta\n") + d("61\tb\n") + c() + S()),
                   X(P("", "copy t from stdin") + B() + E() + H(), 'G'),
                   X(d("62\ta\n") + R::copy_fail("no more") + S()),
                   X(P("", "copy t from stdin") + B() + E() + H(), 'G'),
                   X(d("63\ta\n") + d("x\ty\n") + c() + S()),
               }});
  v.push_back(
      {.name = "copy_out_extended",
       .steps = {
           X(P("", "copy (select id, note from t order by id) to stdout") + B() + E() + S()),
           X(P("co", "copy t to stdout") + B("", "co") + E() + B("", "co") + E() + S()),
       }});
  return v;
}

std::vector<Script> session_scripts() {
  std::vector<Script> v;
  v.push_back({.name = "settings_set_reset",
               .steps = {
                   Q("show work_mem"),
                   Q("set work_mem = '1MB'"),
                   Q("show work_mem"),
                   Q("reset work_mem"),
                   Q("show work_mem"),
                   Q("set timezone = 'Asia/Tokyo'"),
                   Q("select current_setting('TimeZone')"),
                   Q("begin; set local work_mem = '2MB'; show work_mem; commit"),
                   Q("show work_mem"),
                   Q("set datestyle = 'German'; select date '2024-03-01'"),
                   Q("reset all"),
                   Q("select current_setting('TimeZone'), current_setting('DateStyle')"),
                   Q("set statement_timeout = 'bogus'"),
               }});
  v.push_back({.name = "discard_all",
               .steps = {
                   X(P("s1", "select 1") + S()),
                   Q("set timezone = 'Asia/Tokyo'; set work_mem = '3MB'"),
                   Q("discard all"),
                   Q("select current_setting('TimeZone'), current_setting('work_mem')"),
                   X(B("", "s1") + E() + S()),
                   X(P("s1", "select 2") + B("", "s1") + E() + S()),
                   Q("deallocate all"),
                   X(B("", "s1") + E() + S()),
                   Q("begin; discard all"),
                   Q("rollback"),
               }});
  // Two clients: A listens, B notifies. In transaction mode A's LISTEN stays
  // on the link that ran it, and B's next transaction runs there.
  Script ln{.name = "listen_notify",
            .clients = 2,
            .steps = {
                Q("listen ch"),
                Q("notify ch, 'one'", 1),
                Q("select 'A after one'"),
                Q("begin; notify ch, 'rolled back'; rollback", 1),
                Q("select pg_notify('ch', 'two'); select pg_notify('ch', 'two')", 1),
                Q("select 'A after two'"),
                Q("unlisten ch"),
                Q("notify ch, 'three'", 1),
                Q("select 'A after three'"),
            }};
  // Transaction mode pins A to its link at LISTEN: the same notifications.
  ln.pinned_links = 1;
  v.push_back(ln);
  v.push_back({.name = "cancel",
               .steps = {
                   X(R::query("select pg_sleep(30)"), '\0'),
                   Cancel(),
                   Q("select 'after the cancel'"),
                   Q("begin; insert into t values (70, 'a')"),
                   X(R::query("select pg_sleep(30)"), '\0'),
                   Cancel(),
                   Q("rollback"),
                   X(P("", "select pg_sleep(30)") + B() + E() + S(), '\0'),
                   Cancel(),
                   Q("insert into t values (71, 'b')"),
               }});
  return v;
}

std::vector<Script> session_state_scripts() {
  std::vector<Script> v;
  // Each: A leaves state in a transaction of its own; B opens a transaction
  // (in transaction mode it gets A's idle link, the pool's most recently
  // returned one); A's next transaction then runs on another link.
  auto hog = [] { return Q("begin; select 'B holds a link'", 1); };
  auto unhog = [] { return Q("commit", 1); };
  {
    Script s{.name = "state_set_unreported_parameter",
             .clients = 2,
             .steps = {Q("set work_mem = '1MB'"), hog(), Q("show work_mem"), unhog()}};
    // Was a documented difference (SET of a parameter the server does not report); transaction mode
    // now matches: pgwarden carries it to the client's next link.
    v.push_back(s);
  }
  {
    Script s{
        .name = "state_temp_table",
        .clients = 2,
        .steps = {Q("create temp table tt(x int); insert into tt values (1)"), hog(),
                  Q("select x from tt"), Q("insert into t select x + 80, 'tt' from tt"), unhog()}};
    // Was a documented difference (temporary tables); transaction mode now matches:
    // the client is pinned to its link.
    s.pinned_links = 1;
    v.push_back(s);
  }
  {
    Script s{.name = "state_sql_prepare",
             .clients = 2,
             .steps = {Q("prepare q as select 42"), hog(), Q("execute q"), unhog()}};
    // Was a documented difference (SQL PREPARE); transaction mode now matches:
    // the client is pinned to its link.
    s.pinned_links = 1;
    v.push_back(s);
  }
  {
    Script s{
        .name = "state_advisory_lock",
        .clients = 2,
        .steps = {Q("select pg_advisory_lock(7)"), hog(), Q("select pg_try_advisory_lock(7)", 1),
                  Q("select pg_advisory_unlock(7)"), unhog()}};
    // Was a documented difference (session advisory locks); transaction mode now matches:
    // the client is pinned to its link. B's pg_try_advisory_lock pins it too
    // (had it got the lock, B would hold it for its session).
    s.pinned_links = 2;
    v.push_back(s);
  }
  {
    Script s{.name = "state_with_hold_cursor",
             .clients = 2,
             .steps = {Q("begin; declare c cursor with hold for select id from t order by id; "
                         "commit"),
                       hog(), Q("fetch 1 from c"), Q("close c"), unhog()}};
    // Was a documented difference (WITH HOLD cursors); transaction mode now matches:
    // the client is pinned to its link.
    s.pinned_links = 1;
    v.push_back(s);
  }
  {
    Script s{.name = "state_unnamed_statement_across_sync",
             .clients = 2,
             .steps = {X(P("", "select 'unnamed'") + S()), hog(), X(B() + E() + S()), unhog()}};
    // Was a documented difference (the unnamed statement between Syncs); transaction mode now
    // matches: pgwarden carries it to the client's next link.
    v.push_back(s);
  }
  // Parameters the server reports (TimeZone, DateStyle, application_name...)
  // follow each client onto whichever link serves it: pgwarden replays them.
  // No difference, whether A's next transaction runs on another link or B's
  // runs on the link A changed.
  v.push_back({.name = "reported_parameters_follow_each_client",
               .clients = 2,
               .steps = {Q("set timezone = 'Asia/Tokyo'; set intervalstyle = 'iso_8601'"),
                         Q("select current_setting('TimeZone'), interval '1 day'", 1), hog(),
                         Q("select current_setting('TimeZone'), interval '1 day'"),
                         Q("set datestyle = 'German'"), unhog(),
                         Q("select current_setting('DateStyle'), current_setting('TimeZone')", 1),
                         Q("select current_setting('DateStyle'), current_setting('TimeZone')")}});
  // Another client's DEALLOCATE ALL or DISCARD ALL on the link where A's
  // statement was prepared: pgwarden must prepare it again for A.
  v.push_back({.name = "other_clients_deallocate_all",
               .clients = 2,
               .steps = {X(P("s1", "select 's1 of A'") + S()), Q("deallocate all", 1),
                         X(B("", "s1") + E() + S()), Q("discard all", 1),
                         X(B("", "s1") + E() + S()), X(R::describe_statement("s1") + S())}});
  // Protocol-level named statements are carried: pgwarden prepares them on
  // whichever link serves the client. No difference.
  v.push_back(
      {.name = "named_statement_follows_the_client",
       .clients = 2,
       .steps = {X(P("n1", "select 'named ' || $1") + S()), hog(),
                 X(B("", "n1", {"x"}) + E() + S()), X(R::describe_statement("n1") + S()),
                 X(R::close_statement("n1") + S()), X(B("", "n1", {"y"}) + E() + S()), unhog()}});
  return v;
}

std::vector<Script> fixed_bug_scripts() {
  // Bugs these scripts found, fixed since; kept so they stay fixed.
  std::vector<Script> v;
  // libpq's PQexecParams("COPY ... FROM STDIN"): Parse/Bind/Describe/Execute/
  // Sync, then the data, CopyDone and a second Sync. PostgreSQL ignores the
  // first Sync (it arrives in COPY IN mode) and answers only the second.
  // Was bug-1 (fixed): extended-protocol COPY FROM STDIN with a Sync before the data keeps the link
  // lent
  v.push_back({.name = "copy_in_extended_sync_before_data",
               .steps = {
                   X(P("", "copy t from stdin") + B() + E() + S(), 'G'),
                   X(d("60\ta\n") + c() + S()),
                   Q("select count(*) from t"),
               }});
  // Was bug-1 (fixed): extended-protocol COPY FROM STDIN with a Sync before the data keeps the link
  // lent
  v.push_back({.name = "copy_fail_extended_sync_before_data",
               .steps = {
                   X(P("", "copy t from stdin") + B() + E() + S(), 'G'),
                   X(d("60\ta\n") + R::copy_fail("no") + S()),
                   Q("select count(*) from t"),
               }});
  // CopyData written with the COPY query, before CopyInResponse.
  Script pipelined{.name = "copy_data_pipelined_with_query",
                   .steps = {
                       X(R::query("copy t from stdin") + d("64\ta\n") + c()),
                       Q("select count(*) from t"),
                   }};
  pipelined.steps[0].seconds = 2;  // the hang is the bug: do not wait long for it
  // Was bug-2 (fixed): CopyData sent before CopyInResponse is dropped and the COPY hangs
  v.push_back(pipelined);
  // Was bug-3 (fixed): a Close skipped after an error still forgets the client's statement
  v.push_back({.name = "close_skipped_after_error",
               .steps = {
                   X(P("s1", "select 'one'") + S()),
                   X(P("", "selec") + R::close_statement("s1") + S()),
                   X(B("", "s1") + E() + S()),
               }});
  // Was bug-4 (fixed): Parse of a statement name that exists succeeds and replaces it
  v.push_back({.name = "parse_of_existing_name",
               .steps = {
                   X(P("s1", "select 'one'") + S()),
                   X(P("s1", "select 'two'") + S()),
                   X(B("", "s1") + E() + S()),
               }});
  // Was bug-5 (fixed): a Parse skipped after an error is remembered when its text is already
  // prepared
  v.push_back({.name = "parse_skipped_after_error_known_text",
               .steps = {
                   X(P("a", "select 'seven'") + S()),
                   X(P("", "selec") + P("b", "select 'seven'") + S()),
                   X(B("", "b") + E() + S()),
               }});
  // Was bug-8 (fixed): a client that sends no application_name saw pgwarden's
  // login value ('pgwarden'), first at once and then after RESET; RESET in the
  // extended protocol and SET ... TO DEFAULT likewise.
  v.push_back({.name = "application_name_not_given_at_startup",
               .steps = {Q("show application_name"), Q("set application_name = 'mine'"),
                         Q("show application_name"), Q("reset application_name"),
                         Q("show application_name"), Q("set application_name = 'again'"),
                         X(P("", "reset application_name") + B() + E() + S()),
                         Q("show application_name"), Q("set application_name = 'third'"),
                         Q("set application_name to default"), Q("show application_name")}});
  return v;
}

std::vector<Script> known_bug_scripts() {
  // Each entry names its bug (README.md "Known bugs" has the message
  // sequence, PostgreSQL's answer and pgwarden's). The test asserts the
  // script still differs in the listed modes: once a bug is fixed, its entry
  // fails and must be removed (the script then moves to its group).
  std::vector<Script> v;
  // None is listed now: bug-8, the last, was fixed.
  [[maybe_unused]] auto bug = [&](Script s, std::string name, bool session, bool transaction) {
    s.known_bug = std::move(name);
    s.known_bug_session = session;
    s.known_bug_transaction = transaction;
    v.push_back(std::move(s));
  };
  return v;
}

}  // namespace pgw::test::diff
