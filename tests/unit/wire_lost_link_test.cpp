// What a client hears when its server link is lost: LinkState::lost for the
// requests left unanswered, AbortedTransaction for the statements that follow
// in the lost block.
#include <gtest/gtest.h>

#include "pgwarden/wire/aborted_transaction.hpp"
#include "pgwarden/wire/codec.hpp"
#include "pgwarden/wire/link_state.hpp"
#include "wire_test_messages.hpp"

using namespace pgw::wire;
using pgw::wire::test::complete;
using pgw::wire::test::Msg;
using pgw::wire::test::ready;
using pgw::wire::test::typed;

namespace {

Msg error(const std::string& sqlstate) {
  return pgw::wire::test::error("ERROR", sqlstate, "boom");
}

// "E:08006 Z:E": message types, with the SQLSTATE of errors, the tag of
// CommandComplete and the status of ReadyForQuery.
std::string describe(std::string_view bytes) {
  std::string out;
  Frame f;
  while (next_frame(bytes, 1 << 20, f) == FrameStatus::ok) {
    if (!out.empty()) out += ' ';
    out += f.type;
    if (f.type == 'E') {
      ErrorFields e;
      parse_error_fields(f.body, e);
      out += ":" + e.sqlstate;
    } else if (f.type == 'Z') {
      out += ":" + std::string(f.body.substr(0, 1));
    } else if (f.type == 'C') {
      out += ":" + std::string(f.body.substr(0, f.body.find('\0')));
    }
    bytes.remove_prefix(f.size);
  }
  return out;
}

void feed(LinkState& link, const Msg& m) {
  std::string ignored;
  link.received(m.frame(), ignored);
}

const LostLinkErrors kWhy{{"ERROR", "08006", "lost: rolled back"},
                          {"ERROR", "08007", "lost: outcome unknown"}};

LinkRequest query(TxExit exit = TxExit::other) {
  LinkRequest r{LinkRequest::query};
  r.tx_exit = exit;
  return r;
}

}  // namespace

TEST(LostLink, AStatementOutsideABlockHasAnUnknownOutcome) {
  LinkState link;
  link.sent(query());
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "E:08007 Z:I");
  EXPECT_EQ(a.status, 'I');
  EXPECT_FALSE(a.mid_batch);
}

TEST(LostLink, AStatementInsideABlockLosesTheBlock) {
  LinkState link;
  link.sent(query());  // BEGIN
  feed(link, complete("BEGIN"));
  feed(link, ready('T'));
  link.sent(query());  // INSERT, lost
  link.sent(query());  // pipelined behind it
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "E:08006 Z:E E:25P02 Z:E");
  EXPECT_EQ(a.status, 'E');
  EXPECT_TRUE(a.told);
}

TEST(LostLink, AnIdleBlockIsLostSilentlyUntilTheNextStatement) {
  LinkState link;
  link.sent(query());
  feed(link, complete("BEGIN"));
  feed(link, ready('T'));
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(a.to_client, "");
  EXPECT_EQ(a.status, 'E');
  EXPECT_FALSE(a.told);  // AbortedTransaction tells it with the next statement
}

TEST(LostLink, RollbackInFlightSucceedsCommitInFlightIsUnknown) {
  {
    LinkState link;
    link.sent(query());
    feed(link, ready('T'));
    link.sent(query(TxExit::rollback));
    const LostLinkAnswer a = link.lost(kWhy);
    EXPECT_EQ(describe(a.to_client), "C:ROLLBACK Z:I");
    EXPECT_EQ(a.status, 'I');
  }
  {
    LinkState link;
    link.sent(query());
    feed(link, ready('T'));
    link.sent(query(TxExit::commit));
    link.sent(query());  // runs after the commit, outside a block
    const LostLinkAnswer a = link.lost(kWhy);
    EXPECT_EQ(describe(a.to_client), "E:08007 Z:I E:08007 Z:I");
    EXPECT_EQ(a.status, 'I');
  }
  {
    LinkState link;  // COMMIT of a failed block ends as ROLLBACK, as PostgreSQL does
    link.sent(query());
    feed(link, ready('E'));
    link.sent(query(TxExit::commit));
    const LostLinkAnswer a = link.lost(kWhy);
    EXPECT_EQ(describe(a.to_client), "C:ROLLBACK Z:I");
  }
}

TEST(LostLink, AFailedBlockOnlyHearsInFailedTransaction) {
  LinkState link;
  link.sent(query());
  feed(link, error("22012"));
  feed(link, ready('E'));
  link.sent(query());
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "E:25P02 Z:E");
  EXPECT_EQ(a.status, 'E');
}

TEST(LostLink, AnExtendedBatchGetsOneErrorThenReadyForQuery) {
  LinkState link;
  LinkRequest parse{LinkRequest::parse, 7};
  parse.client_name = "s1";
  parse.client_serial = 3;
  link.sent(std::move(parse));
  link.sent({LinkRequest::bind});
  link.sent({LinkRequest::execute});
  link.sent({LinkRequest::sync});
  feed(link, typed('1'));  // ParseComplete arrived, the rest is lost
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "E:08007 Z:I");
  EXPECT_TRUE(a.forgotten_client_statements.empty());  // its Parse completed
}

TEST(LostLink, AParseLostBeforeItsAnswerIsForgotten) {
  LinkState link;
  LinkRequest parse{LinkRequest::parse, 7};
  parse.client_name = "s1";
  parse.client_serial = 3;
  link.sent(std::move(parse));
  link.sent({LinkRequest::sync});
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "E:08007 Z:I");
  ASSERT_EQ(a.forgotten_client_statements.size(), 1u);
  EXPECT_EQ(a.forgotten_client_statements[0], (std::pair<std::string, uint64_t>{"s1", 3}));
}

TEST(LostLink, ABatchWhoseWorkCompletedStillHasAnUnknownCommit) {
  LinkState link;
  link.sent({LinkRequest::bind});
  link.sent({LinkRequest::execute});
  link.sent({LinkRequest::sync});
  feed(link, typed('2'));
  feed(link, complete("INSERT 0 1"));
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "E:08007 Z:I");
}

TEST(LostLink, ABatchTheServerAlreadyFailedOnlyGetsItsReadyForQuery) {
  LinkState link;
  link.sent({LinkRequest::bind});
  link.sent({LinkRequest::execute});
  link.sent({LinkRequest::sync});
  feed(link, error("42P01"));
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "Z:I");
}

TEST(LostLink, ABatchWithoutItsSyncYetIsSkippedToSync) {
  LinkState link;
  link.sent({LinkRequest::bind});
  link.sent({LinkRequest::execute});
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "E:08007");
  EXPECT_TRUE(a.mid_batch);
}

TEST(LostLink, TheProxysOwnRequestsStayHiddenAndLocalAnswersKeepTheirPlace) {
  LinkState link;
  link.sent({LinkRequest::replay});
  link.sent(query());
  feed(link, complete("SET"));
  feed(link, ready('I'));  // the replay's, hidden
  std::string close;
  close_complete(close);
  ASSERT_TRUE(link.answer_locally(close));
  link.sent({LinkRequest::probe});
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "E:08007 Z:I 3");
}

TEST(LostLink, CopyInLostGetsTheErrorAndReadyForQuery) {
  LinkState link;
  link.sent(query());
  feed(link, typed('G', std::string("\0\0\0", 3)));
  ASSERT_TRUE(link.in_copy());
  const LostLinkAnswer a = link.lost(kWhy);
  EXPECT_EQ(describe(a.to_client), "E:08007 Z:I");
}

// ---- AbortedTransaction

namespace {
Msg client_query(const std::string& sql) {
  return typed('Q', sql + std::string(1, '\0'));
}
Msg client_parse(const std::string& name, const std::string& sql) {
  return typed('P',
               name + std::string(1, '\0') + sql + std::string(1, '\0') + std::string(2, '\0'));
}
Msg client_bind(const std::string& portal, const std::string& stmt) {
  return typed('B',
               portal + std::string(1, '\0') + stmt + std::string(1, '\0') + std::string(6, '\0'));
}
Msg client_execute(const std::string& portal) {
  return typed('E', portal + std::string(1, '\0') + std::string(4, '\0'));
}
Msg client_describe(char kind, const std::string& name) {
  return typed('D', std::string(1, kind) + name + std::string(1, '\0'));
}
const AbortedTransaction::StatementText kNoStatements = [](std::string_view) {
  return std::optional<std::string>();
};
}  // namespace

TEST(AbortedTransaction, TellsTheLossOnceThen25P02UntilRollback) {
  AbortedTransaction tx(kWhy.rolled_back);
  auto a = tx.feed(client_query("insert into t values (1)").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "E:08006 Z:E");
  EXPECT_FALSE(a.finished);
  a = tx.feed(client_query("select 1").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "E:25P02 Z:E");
  a = tx.feed(client_query("  ").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "I Z:E");
  a = tx.feed(client_query("rollback").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "C:ROLLBACK Z:I");
  EXPECT_TRUE(a.finished);
}

TEST(AbortedTransaction, CommitEndsTheBlockAsRollbackOnceTheClientKnows) {
  AbortedTransaction tx(std::nullopt);
  auto a = tx.feed(client_query("COMMIT").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "C:ROLLBACK Z:I");
  EXPECT_TRUE(a.finished);
}

TEST(AbortedTransaction, ACommitFromAClientThatDoesNotKnowFailsAndEndsTheBlock) {
  // Never a successful-looking COMMIT for work that was lost.
  AbortedTransaction simple(kWhy.rolled_back);
  auto a = simple.feed(client_query("commit").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "E:08006 Z:I");
  EXPECT_TRUE(a.finished);
  EXPECT_FALSE(a.skip_to_sync);  // a simple query is over with its ReadyForQuery
  AbortedTransaction extended(kWhy.rolled_back);
  extended.feed(client_parse("", "COMMIT").frame(), kNoStatements);
  extended.feed(client_bind("", "").frame(), kNoStatements);
  a = extended.feed(client_execute("").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "E:08006");
  EXPECT_TRUE(a.finished);
  EXPECT_TRUE(a.skip_to_sync);
  // A ROLLBACK needs no telling: the client wanted the work gone.
  AbortedTransaction rolling(kWhy.rolled_back);
  a = rolling.feed(client_query("rollback").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "C:ROLLBACK Z:I");
}

TEST(AbortedTransaction, AnExtendedBatchFailsOnceAndSkipsToSync) {
  AbortedTransaction tx(std::nullopt);
  auto a = tx.feed(client_parse("", "insert into t values ($1)").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "E:25P02");
  EXPECT_FALSE(a.accepted);
  a = tx.feed(client_bind("", "").frame(), kNoStatements);
  EXPECT_EQ(a.to_client, "");
  a = tx.feed(client_execute("").frame(), kNoStatements);
  EXPECT_EQ(a.to_client, "");
  a = tx.feed(typed('S').frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "Z:E");
}

TEST(AbortedTransaction, AnExtendedRollbackRunsAndEndsTheBlockAtItsExecute) {
  AbortedTransaction tx(kWhy.rolled_back);
  auto a = tx.feed(client_parse("", "ROLLBACK").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "1");
  EXPECT_TRUE(a.accepted);
  a = tx.feed(client_bind("", "").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "2");
  a = tx.feed(client_describe('P', "").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "n");
  a = tx.feed(client_execute("").frame(), kNoStatements);
  EXPECT_EQ(describe(a.to_client), "C:ROLLBACK");
  EXPECT_TRUE(a.finished);  // the Sync that follows is answered outside the block
}

TEST(AbortedTransaction, ANamedRollbackStatementIsFoundThroughTheSession) {
  AbortedTransaction tx(std::nullopt);
  const AbortedTransaction::StatementText lookup = [](std::string_view name) {
    return name == "rb" ? std::optional<std::string>("rollback") : std::nullopt;
  };
  auto a = tx.feed(client_describe('S', "rb").frame(), lookup);
  EXPECT_EQ(describe(a.to_client), "t n");
  a = tx.feed(client_bind("p1", "rb").frame(), lookup);
  EXPECT_EQ(describe(a.to_client), "2");
  a = tx.feed(client_execute("p1").frame(), lookup);
  EXPECT_EQ(describe(a.to_client), "C:ROLLBACK");
  EXPECT_TRUE(a.finished);
}

TEST(AbortedTransaction, CopyMessagesAndFlushAreIgnoredUnknownTypesAreMalformed) {
  AbortedTransaction tx(std::nullopt);
  EXPECT_EQ(tx.feed(typed('d', "x").frame(), kNoStatements).to_client, "");
  EXPECT_EQ(tx.feed(typed('H').frame(), kNoStatements).to_client, "");
  EXPECT_TRUE(tx.feed(typed('z').frame(), kNoStatements).malformed);
  EXPECT_TRUE(tx.feed(typed('P', "no-terminator").frame(), kNoStatements).malformed);
  EXPECT_EQ(describe(tx.feed(typed('F', std::string(10, '\0')).frame(), kNoStatements).to_client),
            "E:25P02 Z:E");
}
