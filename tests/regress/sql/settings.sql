-- SET, SET SESSION, SET LOCAL, RESET, RESET ALL, SHOW, set_config and
-- current_setting: values inside and after transactions, savepoints,
-- functions with SET clauses, custom (dotted) settings, and errors.
-- Session state: transaction pooling keeps only the parameters the server
-- reports (DateStyle, TimeZone, ...), see settings_reported.sql.
\set QUIET off
SHOW work_mem;
SET work_mem = '8MB';
SHOW work_mem;
SET SESSION work_mem TO '16MB';
SHOW work_mem;
SET work_mem TO DEFAULT;
SHOW work_mem;
SET search_path = pg_catalog, public;
SHOW search_path;
RESET search_path;
SHOW search_path;
SELECT current_setting('work_mem'), current_setting('no.such_setting', true) IS NULL AS missing_ok;

-- SET LOCAL lasts until the end of the transaction; SET in a rolled back
-- transaction is undone
BEGIN;
SET LOCAL work_mem = '32MB';
SHOW work_mem;
COMMIT;
SHOW work_mem;
BEGIN;
SET work_mem = '64MB';
SHOW work_mem;
ROLLBACK;
SHOW work_mem;
BEGIN;
SET work_mem = '65MB';
COMMIT;
SHOW work_mem;
BEGIN;
SET work_mem = '66MB';
SET LOCAL work_mem = '67MB';
SHOW work_mem;
COMMIT;
SHOW work_mem;
RESET work_mem;
SET LOCAL work_mem = '1MB';
SHOW work_mem;

-- savepoints undo settings made after them
BEGIN;
SET work_mem = '2MB';
SAVEPOINT s1;
SET work_mem = '3MB';
ROLLBACK TO SAVEPOINT s1;
SHOW work_mem;
SAVEPOINT s2;
SET work_mem = '2500kB';
RELEASE SAVEPOINT s2;
SHOW work_mem;
COMMIT;
SHOW work_mem;
RESET work_mem;

-- set_config(is_local) and a function with a SET clause
SELECT set_config('work_mem', '5MB', false);
SHOW work_mem;
BEGIN;
SELECT set_config('work_mem', '6MB', true);
SHOW work_mem;
COMMIT;
SHOW work_mem;
CREATE FUNCTION regress_show_work_mem() RETURNS text LANGUAGE sql
  SET work_mem = '7MB' AS $$ SELECT current_setting('work_mem') $$;
SELECT regress_show_work_mem();
SHOW work_mem;
DROP FUNCTION regress_show_work_mem();

-- custom settings
SET regress.flavour = 'vanilla';
SHOW regress.flavour;
SELECT current_setting('regress.flavour');
BEGIN;
SET LOCAL regress.flavour = 'chocolate';
SHOW regress.flavour;
ROLLBACK;
SHOW regress.flavour;
RESET regress.flavour;
SHOW regress.flavour;

-- a statement_timeout set for the session applies to later statements
SET statement_timeout = '250ms';
SELECT pg_sleep(3);
RESET statement_timeout;
SELECT pg_sleep(0.01) AS slept;

-- RESET ALL
SET work_mem = '9MB';
SET enable_seqscan = off;
RESET ALL;
SHOW work_mem;
SHOW enable_seqscan;

-- errors: unknown settings, bad values, settings that cannot change now
SET no_such_setting = 1;
SHOW no_such_setting;
SET work_mem = 'lots';
SET work_mem = '1kB';
SET enable_seqscan = 'maybe';
SET shared_buffers = '1GB';
SET transaction_isolation = 'serializable';
BEGIN;
SELECT 1;
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;
SET work_mem = 'bad';
SHOW work_mem;
ROLLBACK;
SELECT current_setting('no_such_setting');
SELECT set_config('no.such', 'x', false) AS created_on_the_fly;
SHOW no.such;
RESET no.such;
