-- A new connection starts clean: nothing a previous connection left behind
-- (temp tables, prepared statements, WITH HOLD cursors, LISTEN, session
-- advisory locks, settings) is visible after psql's \c. Through a session
-- pooler the new client may get the server connection the old one used,
-- after the reset query (DISCARD ALL). QUIET hides \c's "You are now
-- connected" line, which names the port.
\set QUIET off
CREATE VIEW regress_session_state AS
  SELECT (SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND pg_table_is_visible(oid)) AS temp_relations,
         (SELECT count(*) FROM pg_prepared_statements) AS prepared_statements,
         (SELECT count(*) FROM pg_cursors) AS cursors,
         (SELECT count(*) FROM pg_listening_channels()) AS channels,
         (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
         current_setting('work_mem') AS work_mem,
         current_setting('search_path') AS search_path;
SELECT * FROM regress_session_state;

CREATE TEMP TABLE regress_left_behind (n int);
CREATE TEMP SEQUENCE regress_left_behind_seq;
SELECT nextval('regress_left_behind_seq');
PREPARE regress_left_behind_stmt AS SELECT 1;
DECLARE regress_left_behind_cur CURSOR WITH HOLD FOR SELECT 1;
LISTEN regress_left_behind_chan;
SELECT pg_advisory_lock(9001);
SET work_mem = '12MB';
SET search_path = pg_catalog;
SELECT * FROM public.regress_session_state;

\set QUIET on
\c
\set QUIET off
SELECT * FROM regress_session_state;
SELECT * FROM regress_left_behind;
EXECUTE regress_left_behind_stmt;
FETCH regress_left_behind_cur;
SELECT currval('regress_left_behind_seq');

-- the same once more, leaving an open transaction behind (another backend's
-- locks are not looked at: a closed backend exits asynchronously)
BEGIN;
CREATE TEMP TABLE regress_left_in_tx (n int);
SELECT pg_advisory_xact_lock(9002);
\set QUIET on
\c
\set QUIET off
SELECT * FROM regress_session_state;
DROP VIEW regress_session_state;
