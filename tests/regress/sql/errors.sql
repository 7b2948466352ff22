-- Errors in every position: syntax errors, run-time errors in plain
-- statements and inside functions (with CONTEXT lines), errors in the middle
-- of a transaction, in an aborted transaction, at COMMIT (deferred
-- constraints), in a multi-statement query string, NOTICE/WARNING/EXCEPTION
-- with DETAIL and HINT, and statement timeouts. Nothing here is session
-- state. Errors in the extended protocol (\gdesc) are in prepared.sql.
\set QUIET off
CREATE TABLE regress_err (id int PRIMARY KEY, v int CHECK (v >= 0));
INSERT INTO regress_err VALUES (1, 10), (2, 20);

-- syntax errors point at the offending token
SELEC 1;
SELECT 1 +;
SELECT * FROM regress_err WHERE;
SELECT 1 AS "a
b" FROM;
CREATE TABLE (id int);

-- run-time errors
SELECT 1/0;
SELECT 10 / (v - 10) FROM regress_err ORDER BY id;
SELECT 'abc'::int;
SELECT no_such_column FROM regress_err;
SELECT * FROM no_such_table;
SELECT no_such_function(1);
SELECT (SELECT id FROM regress_err);
INSERT INTO regress_err VALUES (1, 1);
INSERT INTO regress_err VALUES (3, -1);
INSERT INTO regress_err VALUES (NULL, 1);
INSERT INTO regress_err VALUES (3, 2147483648);
INSERT INTO regress_err (id, v) VALUES (4, 1), (5, 2), (6, -5);
SELECT count(*) FROM regress_err;

-- errors inside functions carry a CONTEXT
CREATE FUNCTION regress_div(a int, b int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RETURN a / b;
END $$;
CREATE FUNCTION regress_outer(b int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RETURN regress_div(100, b) + 1;
END $$;
CREATE FUNCTION regress_sql_div(b int) RETURNS int LANGUAGE sql AS $$ SELECT 100 / b $$;
SELECT regress_div(10, 2);
SELECT regress_div(10, 0);
SELECT regress_outer(0);
SELECT regress_sql_div(0);
SELECT id, regress_div(100, id - 2) FROM regress_err ORDER BY id;
DO $$ BEGIN PERFORM regress_div(1, 0); END $$;

-- messages with every field: NOTICE, WARNING, EXCEPTION, DETAIL, HINT, SQLSTATE
CREATE FUNCTION regress_talk() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'a notice with % and %', 'arguments', 42;
  RAISE WARNING 'a warning' USING DETAIL = 'warning detail', HINT = 'warning hint';
  RAISE INFO 'an info message';
  RAISE DEBUG 'a debug message nobody sees';
  RAISE EXCEPTION 'a custom error' USING ERRCODE = 'P0042', DETAIL = 'error detail',
    HINT = 'error hint', SCHEMA = 'public', TABLE = 'regress_err';
END $$;
SELECT regress_talk();
\set VERBOSITY terse
SELECT regress_talk();
\set VERBOSITY sqlstate
SELECT regress_talk();
SELECT 1/0;
\set VERBOSITY default
\set SHOW_CONTEXT always
SELECT regress_outer(0);
\set SHOW_CONTEXT errors
DO $$ BEGIN RAISE NOTICE 'context shown only for errors'; END $$;
\set SHOW_CONTEXT never
SELECT regress_outer(0);
\set SHOW_CONTEXT errors
SELECT :LAST_ERROR_SQLSTATE AS last_sqlstate;
SELECT :'LAST_ERROR_MESSAGE' AS last_message;

-- an error handled inside a function never reaches the client
CREATE FUNCTION regress_safe_div(a int, b int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RETURN a / b;
EXCEPTION WHEN division_by_zero THEN
  RAISE NOTICE 'caught: %', SQLERRM;
  RETURN NULL;
END $$;
SELECT regress_safe_div(1, 0);

-- an error mid-transaction, commands in the aborted transaction, recovery
BEGIN;
INSERT INTO regress_err VALUES (10, 1);
SAVEPOINT sp;
INSERT INTO regress_err VALUES (11, -1);
SELECT 'ignored';
INSERT INTO regress_err VALUES (12, 1);
SELECT 1/0;
ROLLBACK TO SAVEPOINT sp;
INSERT INTO regress_err VALUES (13, 1);
COMMIT;
SELECT id FROM regress_err WHERE id >= 10 ORDER BY id;
BEGIN;
SELECT regress_div(1, 0);
SELECT regress_div(1, 1);
SAVEPOINT too_late;
COMMIT;

-- errors at COMMIT: a deferred constraint checked at the end
CREATE TABLE regress_err_parent (id int PRIMARY KEY);
CREATE TABLE regress_err_child (pid int REFERENCES regress_err_parent DEFERRABLE INITIALLY DEFERRED);
BEGIN;
INSERT INTO regress_err_child VALUES (1);
SELECT 'accepted for now' AS status;
COMMIT;
BEGIN;
INSERT INTO regress_err_child VALUES (2);
SET CONSTRAINTS ALL IMMEDIATE;
ROLLBACK;
SELECT count(*) FROM regress_err_child;

-- errors in a multi-statement query string: earlier results are shown,
-- later statements do not run
SELECT 'first' AS s \; SELECT 1/0 \; SELECT 'never' AS s;
SELECT 'first' AS s \; SELEC 'syntax' \; SELECT 'never' AS s;
BEGIN \; SELECT 1/0 \; COMMIT;
SELECT 'after the failed string' AS status;
ROLLBACK;

-- statement timeout (per transaction, so it is not session state)
BEGIN;
SET LOCAL statement_timeout = '250ms';
SELECT pg_sleep(3);
ROLLBACK;

-- errors from triggers and from the 5000th row of an aggregate
CREATE FUNCTION regress_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.v > 100 THEN
    RAISE EXCEPTION 'value % too large for row %', NEW.v, NEW.id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER regress_err_trg BEFORE INSERT OR UPDATE ON regress_err
  FOR EACH ROW EXECUTE FUNCTION regress_trg();
INSERT INTO regress_err VALUES (20, 101);
UPDATE regress_err SET v = v * 10 WHERE id <= 13;
SELECT sum(1 / (5000 - g)) FROM generate_series(1, 6000) g;

DROP TABLE regress_err, regress_err_child, regress_err_parent;
DROP FUNCTION regress_div, regress_outer, regress_sql_div, regress_talk, regress_safe_div, regress_trg;
