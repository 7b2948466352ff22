-- Transactions and savepoints: commit, rollback, nested savepoints, chains,
-- isolation levels, read-only transactions and the warnings PostgreSQL sends
-- for transaction commands in the wrong place. No session state survives a
-- transaction, so transaction pooling must give the same output.
\set QUIET off
CREATE TABLE regress_tx (id int PRIMARY KEY, note text);

-- autocommit
INSERT INTO regress_tx VALUES (1, 'autocommit');

-- committed and rolled back transactions
BEGIN;
INSERT INTO regress_tx VALUES (2, 'committed');
COMMIT;
BEGIN;
INSERT INTO regress_tx VALUES (3, 'rolled back');
ROLLBACK;
START TRANSACTION;
INSERT INTO regress_tx VALUES (4, 'start transaction');
END;
SELECT * FROM regress_tx ORDER BY id;

-- savepoints: release, roll back to, nesting, reuse of a name
BEGIN;
INSERT INTO regress_tx VALUES (10, 'before sp1');
SAVEPOINT sp1;
INSERT INTO regress_tx VALUES (11, 'in sp1');
SAVEPOINT sp2;
INSERT INTO regress_tx VALUES (12, 'in sp2');
ROLLBACK TO SAVEPOINT sp2;
INSERT INTO regress_tx VALUES (13, 'after rollback to sp2');
RELEASE SAVEPOINT sp1;
SAVEPOINT sp1;
INSERT INTO regress_tx VALUES (14, 'in second sp1');
SAVEPOINT sp1;
INSERT INTO regress_tx VALUES (15, 'in third sp1');
ROLLBACK TO sp1;
RELEASE sp1;
ROLLBACK TO sp1;
RELEASE sp1;
SELECT * FROM regress_tx WHERE id >= 10 ORDER BY id;
COMMIT;
SELECT * FROM regress_tx WHERE id >= 10 ORDER BY id;

-- a failing statement in a transaction, then ROLLBACK TO SAVEPOINT
BEGIN;
SAVEPOINT before_dup;
INSERT INTO regress_tx VALUES (1, 'duplicate');
SELECT 'ignored while aborted';
ROLLBACK TO SAVEPOINT before_dup;
INSERT INTO regress_tx VALUES (20, 'after the recovered error');
COMMIT;
SELECT * FROM regress_tx WHERE id >= 20 ORDER BY id;

-- COMMIT of an aborted transaction is a ROLLBACK
BEGIN;
INSERT INTO regress_tx VALUES (21, 'lost');
SELECT no_such_column FROM regress_tx;
COMMIT;
SELECT count(*) AS rows_with_21 FROM regress_tx WHERE id = 21;

-- savepoint errors
SAVEPOINT outside;
BEGIN;
ROLLBACK TO SAVEPOINT no_such_savepoint;
ROLLBACK;
BEGIN;
RELEASE SAVEPOINT no_such_savepoint;
ROLLBACK;

-- transaction commands in the wrong place
COMMIT;
ROLLBACK;
BEGIN;
BEGIN;
COMMIT;

-- chains keep the transaction characteristics
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO regress_tx VALUES (30, 'chain 1');
COMMIT AND CHAIN;
SHOW transaction_isolation;
INSERT INTO regress_tx VALUES (31, 'chain 2');
ROLLBACK AND CHAIN;
SHOW transaction_isolation;
INSERT INTO regress_tx VALUES (32, 'chain 3');
COMMIT;
SELECT * FROM regress_tx WHERE id >= 30 ORDER BY id;
COMMIT AND CHAIN;

-- isolation levels and access modes
BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE;
SHOW transaction_isolation;
SHOW transaction_read_only;
SHOW transaction_deferrable;
SELECT count(*) FROM regress_tx;
INSERT INTO regress_tx VALUES (40, 'read only');
ROLLBACK;
BEGIN;
SELECT count(*) FROM regress_tx;
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;
ROLLBACK;
BEGIN READ ONLY;
SET TRANSACTION READ WRITE;
ROLLBACK;
SHOW transaction_isolation;
SHOW transaction_read_only;

-- a multi-statement query string is one implicit transaction
INSERT INTO regress_tx VALUES (50, 'implicit 1') \; INSERT INTO regress_tx VALUES (51, 'implicit 2') \; SELECT 1/0;
SELECT count(*) AS implicit_rows FROM regress_tx WHERE id >= 50;
INSERT INTO regress_tx VALUES (50, 'implicit 1') \; COMMIT \; INSERT INTO regress_tx VALUES (51, 'implicit 2') \; SELECT 1/0;
SELECT * FROM regress_tx WHERE id >= 50 ORDER BY id;
BEGIN \; INSERT INTO regress_tx VALUES (52, 'explicit in one string') \; COMMIT;
SELECT * FROM regress_tx WHERE id >= 50 ORDER BY id;

-- psql's ON_ERROR_ROLLBACK wraps each statement in a savepoint
\set ON_ERROR_ROLLBACK on
BEGIN;
INSERT INTO regress_tx VALUES (60, 'kept');
INSERT INTO regress_tx VALUES (60, 'duplicate');
INSERT INTO regress_tx VALUES (61, 'kept after the error');
COMMIT;
\set ON_ERROR_ROLLBACK off
SELECT * FROM regress_tx WHERE id >= 60 ORDER BY id;

-- psql keeps the last error in variables
BEGIN;
SELECT 1 AS in_tx;
\echo :LAST_ERROR_MESSAGE
SELECT 1/0;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

DROP TABLE regress_tx;
