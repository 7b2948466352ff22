// The lexical steps that tell what a statement is without parsing SQL.
#include <gtest/gtest.h>

#include "pgwarden/wire/sql_lex.hpp"

using namespace pgw::wire;

TEST(TxExit, ClassifiesWholeStatementsOnly) {
  EXPECT_EQ(classify_tx_exit("ROLLBACK"), TxExit::rollback);
  EXPECT_EQ(classify_tx_exit("  rollback work ;  "), TxExit::rollback);
  EXPECT_EQ(classify_tx_exit("/* c */ ABORT TRANSACTION -- bye"), TxExit::rollback);
  EXPECT_EQ(classify_tx_exit("rollback and no chain"), TxExit::rollback);
  EXPECT_EQ(classify_tx_exit("COMMIT"), TxExit::commit);
  EXPECT_EQ(classify_tx_exit("end"), TxExit::commit);
  EXPECT_EQ(classify_tx_exit("commit transaction;"), TxExit::commit);
  EXPECT_EQ(classify_tx_exit("PREPARE TRANSACTION 'gid-1'"), TxExit::commit);
  EXPECT_EQ(classify_tx_exit("rollback to savepoint a"), TxExit::other);
  EXPECT_EQ(classify_tx_exit("rollback and chain"), TxExit::other);
  EXPECT_EQ(classify_tx_exit("commit and chain"), TxExit::other);
  EXPECT_EQ(classify_tx_exit("rollback prepared 'x'"), TxExit::other);
  EXPECT_EQ(classify_tx_exit("ROLLBACK; SELECT 1"), TxExit::other);
  EXPECT_EQ(classify_tx_exit("prepare s as select 1"), TxExit::other);
  EXPECT_EQ(classify_tx_exit("select 'rollback'"), TxExit::other);
  EXPECT_EQ(classify_tx_exit("rollbackx"), TxExit::other);
  EXPECT_EQ(classify_tx_exit(""), TxExit::other);
  EXPECT_TRUE(is_empty_query("  -- nothing\n /* at all */ "));
  EXPECT_FALSE(is_empty_query(";"));
}

TEST(Deallocate, NamesTheStatementOfALoneDeallocate) {
  EXPECT_EQ(deallocated_statement("DEALLOCATE s1"), "s1");
  EXPECT_EQ(deallocated_statement("deallocate prepare _pg3_0;"), "_pg3_0");
  EXPECT_EQ(deallocated_statement("  DEALLOCATE Upper -- comment"), "upper");
  EXPECT_EQ(deallocated_statement("DEALLOCATE \"Mixed \"\"q\"\"\""), "Mixed \"q\"");
  EXPECT_EQ(deallocated_statement("DEALLOCATE PREPARE \"x\" ;"), "x");
  // A statement may itself be called "prepare".
  EXPECT_EQ(deallocated_statement("DEALLOCATE prepare"), "prepare");
  EXPECT_EQ(deallocated_statement("DEALLOCATE ALL"), std::nullopt);
  EXPECT_EQ(deallocated_statement("DEALLOCATE PREPARE ALL"), std::nullopt);
  EXPECT_EQ(deallocated_statement("DEALLOCATE s1; SELECT 1"), std::nullopt);
  EXPECT_EQ(deallocated_statement("DEALLOCATE \"\""), std::nullopt);
  EXPECT_EQ(deallocated_statement("DEALLOCATE \"open"), std::nullopt);
  EXPECT_EQ(deallocated_statement("DEALLOCATE"), std::nullopt);
  EXPECT_EQ(deallocated_statement("DISCARD ALL"), std::nullopt);
}
