// The link state machine, state by state: what each server message does in
// each state, which responses reach the client, and when a link is idle.
#include <gtest/gtest.h>

#include "pgwarden/wire/codec.hpp"
#include "pgwarden/wire/link_state.hpp"
#include "wire_test_messages.hpp"

using namespace pgw::wire;
using namespace pgw::wire::test;

namespace {

// Feeds `m` and returns what the client would see, as message types.
std::string feed(LinkState& link, const Msg& m, BackendOutcome* out = nullptr) {
  std::string to_client;
  BackendOutcome o = link.received(m.frame(), to_client);
  if (out) *out = o;
  std::string types;
  std::string_view rest = to_client;
  Frame f;
  while (next_frame(rest, 1 << 20, f) == FrameStatus::ok) {
    types.push_back(f.type);
    rest.remove_prefix(f.size);
  }
  return types;
}

LinkRequest req(LinkRequest::Kind k, uint64_t statement = 0, std::string client_name = {}) {
  LinkRequest r{k, statement};
  r.client_name = std::move(client_name);
  return r;
}

}  // namespace

TEST(LinkState, FreshLinkIsIdle) {
  LinkState link;
  EXPECT_EQ(link.phase(), LinkPhase::idle);
  EXPECT_EQ(on_client_departure(link.phase()), DepartureAction::release);
}

TEST(LinkState, SimpleQueryIsBusyUntilReadyForQuery) {
  LinkState link;
  link.sent(req(LinkRequest::query));
  EXPECT_EQ(link.phase(), LinkPhase::busy);
  EXPECT_EQ(feed(link, typed('T')), "T");
  EXPECT_EQ(feed(link, typed('D')), "D");
  EXPECT_EQ(feed(link, complete("SELECT 1")), "C");
  EXPECT_EQ(link.phase(), LinkPhase::busy);
  BackendOutcome out;
  EXPECT_EQ(feed(link, ready('I'), &out), "Z");
  EXPECT_TRUE(out.ready);
  EXPECT_EQ(out.status, 'I');
  EXPECT_EQ(link.phase(), LinkPhase::idle);
  EXPECT_EQ(on_client_departure(link.phase()), DepartureAction::release);
}

TEST(LinkState, BusyLinkIsCancelledAndClosedOnDeparture) {
  LinkState link;
  link.sent(req(LinkRequest::query));
  EXPECT_EQ(on_client_departure(link.phase()), DepartureAction::cancel_and_close);
}

TEST(LinkState, TransactionBlockIsRolledBackOnDeparture) {
  LinkState link;
  link.sent(req(LinkRequest::query));
  feed(link, complete("BEGIN"));
  feed(link, ready('T'));
  EXPECT_EQ(link.phase(), LinkPhase::in_transaction);
  EXPECT_EQ(on_client_departure(link.phase()), DepartureAction::rollback);
  link.sent(req(LinkRequest::query));
  feed(link, error("ERROR", "22012", "division by zero"));
  feed(link, ready('E'));
  EXPECT_EQ(link.phase(), LinkPhase::failed_transaction);
  EXPECT_EQ(on_client_departure(link.phase()), DepartureAction::rollback);
}

TEST(LinkState, ExecuteWithoutSyncLeavesTheLinkUnsynced) {
  // P/B/E/Flush: every response arrived, but PostgreSQL's implicit
  // transaction is still open: a Sync from anyone would commit it.
  LinkState link;
  link.sent(req(LinkRequest::parse));
  link.sent(req(LinkRequest::bind));
  link.sent(req(LinkRequest::execute));
  EXPECT_EQ(feed(link, typed('1')), "1");
  EXPECT_EQ(feed(link, typed('2')), "2");
  EXPECT_EQ(feed(link, complete("INSERT 0 1")), "C");
  EXPECT_FALSE(link.has_outstanding());
  EXPECT_EQ(link.phase(), LinkPhase::unsynced);
  EXPECT_EQ(on_client_departure(link.phase()), DepartureAction::close);
  link.sent(req(LinkRequest::sync));
  EXPECT_EQ(feed(link, ready('I')), "Z");
  EXPECT_EQ(link.phase(), LinkPhase::idle);
}

TEST(LinkState, ErrorSkipsToSyncAndForgetsSkippedParses) {
  LinkState link;
  link.sent(req(LinkRequest::parse));
  link.sent(req(LinkRequest::bind));
  link.sent(req(LinkRequest::execute));
  link.sent(req(LinkRequest::parse, 7, "s2"));
  link.sent(req(LinkRequest::bind, 7));
  link.sent(req(LinkRequest::execute));
  link.sent(req(LinkRequest::sync));
  EXPECT_TRUE(link.will_exist(7));  // as far as the proxy can tell when it sends the Bind
  feed(link, typed('1'));
  BackendOutcome out;
  EXPECT_EQ(feed(link, error("ERROR", "22012", "division by zero"), &out), "E");
  EXPECT_TRUE(out.error);
  ASSERT_EQ(out.forgotten_client_statements.size(), 1u);
  EXPECT_EQ(out.forgotten_client_statements[0].first, "s2");
  EXPECT_FALSE(link.will_exist(7));
  EXPECT_EQ(link.outstanding(), 1u);  // only the Sync is answered now
  EXPECT_EQ(feed(link, ready('I')), "Z");
  EXPECT_EQ(link.phase(), LinkPhase::idle);
  EXPECT_FALSE(link.confirmed().contains(7));
}

TEST(LinkState, SimpleQueryInsideASkippedBatchIsIgnoredLikePostgresDoes) {
  LinkState link;
  link.sent(req(LinkRequest::execute));
  link.sent(req(LinkRequest::query));
  link.sent(req(LinkRequest::sync));
  feed(link, error("ERROR", "42P01", "relation does not exist"));
  EXPECT_EQ(link.outstanding(), 1u);
  feed(link, ready('I'));
  EXPECT_TRUE(link.idle());
}

TEST(LinkState, StatementsExistOnlyOnceParseCompleteArrives) {
  LinkState link;
  link.sent(req(LinkRequest::injected_parse, 3));
  EXPECT_TRUE(link.will_exist(3));
  EXPECT_FALSE(link.confirmed().contains(3));
  BackendOutcome out;
  EXPECT_EQ(feed(link, typed('1'), &out), "");  // hidden from the client
  EXPECT_TRUE(out.hidden);
  EXPECT_TRUE(link.confirmed().contains(3));
  link.sent(req(LinkRequest::injected_close, 3));
  EXPECT_FALSE(link.will_exist(3));
  EXPECT_TRUE(link.confirmed().contains(3));
  EXPECT_EQ(feed(link, typed('3')), "");
  EXPECT_FALSE(link.confirmed().contains(3));
}

TEST(LinkState, VictimIsTheLeastRecentlyUsedConfirmedStatement) {
  LinkState link;
  for (uint64_t id : {1, 2}) {
    link.sent(req(LinkRequest::injected_parse, id));
    feed(link, typed('1'));
  }
  EXPECT_FALSE(link.victim_for(3).has_value());
  ASSERT_TRUE(link.victim_for(2).has_value());
  EXPECT_EQ(*link.victim_for(2), 1u);
  link.touch(1);
  EXPECT_EQ(*link.victim_for(2), 2u);
  // A Parse in flight counts toward the capacity.
  link.sent(req(LinkRequest::injected_parse, 5));
  EXPECT_TRUE(link.victim_for(3).has_value());
}

TEST(LinkState, DiscardAllForgetsEveryStatement) {
  LinkState link;
  link.sent(req(LinkRequest::injected_parse, 4));
  feed(link, typed('1'));
  link.sent(req(LinkRequest::query));
  BackendOutcome out;
  feed(link, complete("DISCARD ALL"), &out);
  EXPECT_TRUE(out.statements_reset);
  feed(link, ready('I'));
  EXPECT_FALSE(link.will_exist(4));
}

TEST(LinkState, ChangedResultTypeMakesTheStatementStale) {
  LinkState link;
  link.sent(req(LinkRequest::injected_parse, 9));
  feed(link, typed('1'));
  link.sent(req(LinkRequest::bind, 9));
  link.sent(req(LinkRequest::execute));
  link.sent(req(LinkRequest::sync));
  feed(link, error("ERROR", "0A000", "cached plan must not change result type"));
  feed(link, ready('I'));
  EXPECT_FALSE(link.will_exist(9));
  EXPECT_TRUE(link.must_close_before_parse(9));
  link.sent(req(LinkRequest::injected_close, 9));
  EXPECT_FALSE(link.must_close_before_parse(9));
  feed(link, typed('3'));
  EXPECT_FALSE(link.must_close_before_parse(9));
}

TEST(LinkState, LocalAnswersWaitForEarlierResponses) {
  LinkState link;
  EXPECT_FALSE(link.answer_locally("x"));  // nothing outstanding: send it now
  link.sent(req(LinkRequest::bind));
  std::string one_complete;
  parse_complete(one_complete);
  EXPECT_TRUE(link.answer_locally(one_complete));
  EXPECT_EQ(feed(link, typed('2')), "21");
  EXPECT_FALSE(link.has_outstanding());
}

TEST(LinkState, LocalAnswersInASkippedBatchAreDropped) {
  LinkState link;
  link.sent(req(LinkRequest::bind));
  std::string one_complete;
  parse_complete(one_complete);
  link.answer_locally(one_complete);
  link.sent(req(LinkRequest::execute));
  link.sent(req(LinkRequest::sync));
  EXPECT_EQ(feed(link, error("ERROR", "26000", "no such statement")), "E");
  EXPECT_EQ(feed(link, ready('I')), "Z");
}

TEST(LinkState, ReplayIsHiddenIncludingItsError) {
  LinkState link;
  link.sent(req(LinkRequest::replay));
  link.sent(req(LinkRequest::query));
  BackendOutcome out;
  EXPECT_EQ(feed(link, typed('S', std::string("TimeZone\0UTC\0", 13)), &out), "");
  EXPECT_TRUE(out.hidden);
  EXPECT_EQ(feed(link, error("ERROR", "22023", "bad value"), &out), "");
  EXPECT_TRUE(out.replay_failed);
  EXPECT_EQ(feed(link, ready('I'), &out), "");
  EXPECT_TRUE(out.replay_ready);
  EXPECT_FALSE(out.ready);
  EXPECT_EQ(link.phase(), LinkPhase::busy);
  EXPECT_EQ(feed(link, complete("SELECT 1")), "C");
  EXPECT_EQ(feed(link, ready('I'), &out), "Z");
  EXPECT_TRUE(out.ready);
}

TEST(LinkState, CopyInLastsUntilTheClientEndsIt) {
  LinkState link;
  link.sent(req(LinkRequest::query));
  EXPECT_EQ(feed(link, typed('G')), "G");
  EXPECT_EQ(link.phase(), LinkPhase::copy);
  EXPECT_TRUE(link.copy_in());
  EXPECT_EQ(on_client_departure(link.phase()), DepartureAction::cancel_and_close);
  link.sent_copy_end();
  EXPECT_FALSE(link.in_copy());
  feed(link, complete("COPY 3"));
  feed(link, ready('I'));
  EXPECT_TRUE(link.idle());
}

TEST(LinkState, CopyOutEndsWithTheServersCopyDone) {
  LinkState link;
  link.sent(req(LinkRequest::query));
  feed(link, typed('H'));
  EXPECT_EQ(link.phase(), LinkPhase::copy);
  EXPECT_FALSE(link.copy_in());
  feed(link, typed('d'));
  feed(link, typed('c'));
  EXPECT_FALSE(link.in_copy());
  feed(link, complete("COPY 1"));
  feed(link, ready('I'));
  EXPECT_TRUE(link.idle());
}

TEST(LinkState, FatalBreaksTheLinkAndReachesTheClientEvenWhenHidden) {
  LinkState link;
  link.sent(req(LinkRequest::replay));
  BackendOutcome out;
  EXPECT_EQ(feed(link, error("FATAL", "57P01", "terminating connection"), &out), "E");
  EXPECT_TRUE(out.fatal);
  EXPECT_TRUE(link.fatal_seen());
  EXPECT_EQ(link.phase(), LinkPhase::broken);
  EXPECT_EQ(on_client_departure(link.phase()), DepartureAction::close);
}

TEST(LinkState, AResponseToNothingBreaksTheLink) {
  LinkState link;
  BackendOutcome out;
  EXPECT_EQ(feed(link, complete("SELECT 1"), &out), "C");
  EXPECT_TRUE(out.unexpected);
  EXPECT_EQ(link.phase(), LinkPhase::broken);
}

TEST(LinkState, AsynchronousMessagesPassInAnyState) {
  LinkState link;
  EXPECT_EQ(feed(link, typed('N')), "N");
  EXPECT_EQ(feed(link, typed('A')), "A");
  EXPECT_TRUE(link.idle());
}

TEST(LinkState, SyncBeforeCopyDataIsIgnoredLikePostgresDoes) {
  // libpq's PQexecParams("copy ... from stdin"): P B E S, then data, CopyDone, S.
  LinkState link;
  link.sent(req(LinkRequest::parse));
  link.sent(req(LinkRequest::bind));
  link.sent(req(LinkRequest::execute));
  link.sent(req(LinkRequest::sync));
  feed(link, typed('1'));
  feed(link, typed('2'));
  EXPECT_EQ(feed(link, typed('G')), "G");
  EXPECT_TRUE(link.copy_in());
  link.sent_copy_end();
  link.sent(req(LinkRequest::sync));
  feed(link, complete("COPY 1"));
  EXPECT_EQ(feed(link, ready('I')), "Z");
  EXPECT_TRUE(link.idle());  // the first Sync was never going to be answered
}

TEST(LinkState, CopyDataPipelinedBeforeCopyInResponse) {
  LinkState link;
  link.sent(req(LinkRequest::query));
  link.sent_copy_end();  // data and CopyDone written before the server answered
  EXPECT_EQ(feed(link, typed('G')), "G");
  EXPECT_FALSE(link.in_copy());
  feed(link, complete("COPY 1"));
  feed(link, ready('I'));
  EXPECT_TRUE(link.idle());
}

TEST(LinkState, LocalCloseIsReportedWhenDeliveredAndKeptWhenSkipped) {
  LinkState link;
  link.sent(req(LinkRequest::bind));
  LinkRequest close{LinkRequest::local};
  close_complete(close.payload);
  close.client_name = "s1";
  close.client_serial = 4;
  close.closes = true;
  EXPECT_TRUE(link.answer_locally(close));
  link.sent(req(LinkRequest::sync));
  BackendOutcome out;
  EXPECT_EQ(feed(link, typed('2'), &out), "23");
  ASSERT_EQ(out.closed_client_statements.size(), 1u);
  EXPECT_EQ(out.closed_client_statements[0].first, "s1");
  feed(link, ready('I'));

  link.sent(req(LinkRequest::bind));
  EXPECT_TRUE(link.answer_locally(close));
  link.sent(req(LinkRequest::sync));
  EXPECT_EQ(feed(link, error("ERROR", "26000", "no such statement"), &out), "E");
  ASSERT_EQ(out.kept_client_statements.size(), 1u);
  EXPECT_EQ(out.kept_client_statements[0].second, 4u);
}

TEST(LinkState, SettingsProbeIsHiddenAndAwaitedUntilItsReadyForQuery) {
  LinkState link;
  link.sent(req(LinkRequest::query));
  link.sent(req(LinkRequest::probe));
  EXPECT_TRUE(link.awaits_probe());
  feed(link, complete("SET"));
  BackendOutcome out;
  EXPECT_EQ(feed(link, ready('I'), &out), "Z");
  EXPECT_TRUE(out.ready);
  EXPECT_TRUE(link.awaits_probe());
  EXPECT_EQ(feed(link, typed('D'), &out), "");
  EXPECT_TRUE(out.probe_row);
  EXPECT_EQ(feed(link, error("ERROR", "25P02", "current transaction is aborted"), &out), "");
  EXPECT_TRUE(out.probe_failed);
  EXPECT_FALSE(out.replay_failed);
  EXPECT_EQ(feed(link, ready('I'), &out), "");
  EXPECT_TRUE(out.probe_ready);
  EXPECT_FALSE(link.awaits_probe());
  EXPECT_TRUE(link.idle());
}

TEST(LinkState, ParameterStatusOfAProbeReachesTheClientButAReplaysDoesNot) {
  // A probe restores startup values that a RESET took back to the link's
  // login values: the client must hear the value it now has. A replay only
  // makes a new link match what the client already believes.
  Msg status = typed('S', std::string("application_name\0psql\0", 22));
  LinkState link;
  link.sent(req(LinkRequest::probe));
  EXPECT_EQ(feed(link, status), "S");
  EXPECT_EQ(feed(link, typed('D')), "");
  EXPECT_EQ(feed(link, ready('I')), "");
  link.sent(req(LinkRequest::replay));
  EXPECT_EQ(feed(link, status), "");
  EXPECT_EQ(feed(link, ready('I')), "");
  EXPECT_TRUE(link.idle());
}
