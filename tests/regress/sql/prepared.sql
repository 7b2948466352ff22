-- SQL-level PREPARE / EXECUTE / DEALLOCATE (session state), and psql's
-- \gdesc, which prepares the unnamed statement through the extended protocol
-- (Parse, Describe) and reports errors from there.
\set QUIET off
CREATE TABLE regress_prep (id int PRIMARY KEY, label text);
INSERT INTO regress_prep SELECT g, 'label ' || g FROM generate_series(1, 5) g;

PREPARE by_id (int) AS SELECT id, label FROM regress_prep WHERE id = $1;
PREPARE ins (int, text) AS INSERT INTO regress_prep VALUES ($1, $2) RETURNING *;
PREPARE count_all AS SELECT count(*) FROM regress_prep;
PREPARE untyped AS SELECT $1 || '!' AS shout;
EXECUTE by_id(3);
EXECUTE by_id(99);
EXECUTE ins(6, 'six');
EXECUTE count_all;
EXECUTE untyped('hey');
SELECT name, statement, parameter_types, from_sql FROM pg_prepared_statements ORDER BY name;

-- prepared statements in transactions survive a rollback
BEGIN;
PREPARE in_tx AS SELECT 'prepared in a transaction' AS note;
EXECUTE ins(7, 'seven');
ROLLBACK;
EXECUTE count_all;
BEGIN;
PREPARE rolled_back AS SELECT 1;
SELECT 1/0;
ROLLBACK;
EXECUTE rolled_back;
SELECT name FROM pg_prepared_statements ORDER BY name;

-- errors
EXECUTE no_such_statement;
EXECUTE by_id;
EXECUTE by_id(1, 2);
EXECUTE by_id('not a number');
PREPARE by_id AS SELECT 2;
PREPARE broken AS SELEKT 1;
PREPARE bad_table AS SELECT * FROM no_such_table;
EXECUTE ins(1, 'duplicate');
DEALLOCATE no_such_statement;

-- a plan survives a schema change: it is replanned
ALTER TABLE regress_prep ADD COLUMN extra int DEFAULT 0;
EXECUTE by_id(1);
PREPARE star AS SELECT * FROM regress_prep WHERE id = 1;
EXECUTE star;
ALTER TABLE regress_prep DROP COLUMN extra;
EXECUTE star;

-- EXPLAIN EXECUTE and CREATE TABLE AS EXECUTE
EXPLAIN (COSTS OFF) EXECUTE by_id(2);
CREATE TEMP TABLE regress_prep_copy AS EXECUTE by_id(2);
SELECT * FROM regress_prep_copy;

-- DEALLOCATE one, then all
DEALLOCATE by_id;
DEALLOCATE PREPARE ins;
SELECT name FROM pg_prepared_statements ORDER BY name;
DEALLOCATE ALL;
SELECT count(*) AS prepared FROM pg_prepared_statements;

-- \gdesc describes a query without running it: Parse of the unnamed
-- statement and Sync, then Describe of it and Sync. The unnamed statement is
-- protocol-level session state between the two. Errors come from the Parse.
SELECT id, label, now() AS ts FROM regress_prep \gdesc
SELECT $1::int AS param \gdesc
SELECT 1/0 AS not_evaluated \gdesc
SELECT no_such_column FROM regress_prep \gdesc
SELECT * FROM no_such_table \gdesc
SELECT 'the session still works' AS status;
INSERT INTO regress_prep VALUES (100, 'gdesc does not insert') \gdesc
SELECT count(*) AS not_inserted FROM regress_prep WHERE id = 100;

DROP TABLE regress_prep;
