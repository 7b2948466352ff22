-- Two-phase commit: PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED
-- and their errors. A prepared transaction belongs to no session, so
-- transaction pooling must give the same output. Needs
-- max_prepared_transactions > 0 on the server.
\set QUIET off
CREATE TABLE regress_2pc (id int PRIMARY KEY, note text);
INSERT INTO regress_2pc VALUES (1, 'before');

BEGIN;
INSERT INTO regress_2pc VALUES (2, 'prepared then committed');
UPDATE regress_2pc SET note = 'updated in 2pc' WHERE id = 1;
PREPARE TRANSACTION 'regress_gid_commit';
BEGIN;
INSERT INTO regress_2pc VALUES (3, 'prepared then rolled back');
PREPARE TRANSACTION 'regress_gid_rollback';
SELECT gid, owner = current_user AS mine, database = current_database() AS here
  FROM pg_prepared_xacts WHERE gid LIKE 'regress_%' ORDER BY gid;
-- not visible until committed; the prepared rows are locked
SELECT * FROM regress_2pc ORDER BY id;
BEGIN;
SET LOCAL lock_timeout = '50ms';
UPDATE regress_2pc SET note = 'blocked' WHERE id = 1;
ROLLBACK;
COMMIT PREPARED 'regress_gid_commit';
ROLLBACK PREPARED 'regress_gid_rollback';
SELECT * FROM regress_2pc ORDER BY id;
SELECT count(*) AS left_over FROM pg_prepared_xacts WHERE gid LIKE 'regress_%';

-- errors
COMMIT PREPARED 'regress_no_such_gid';
ROLLBACK PREPARED 'regress_no_such_gid';
BEGIN;
PREPARE TRANSACTION 'regress_gid_dup';
BEGIN;
PREPARE TRANSACTION 'regress_gid_dup';
SELECT count(*) AS dup_prepared FROM pg_prepared_xacts WHERE gid = 'regress_gid_dup';
BEGIN;
COMMIT PREPARED 'regress_gid_dup';
ROLLBACK;
ROLLBACK PREPARED 'regress_gid_dup';
PREPARE TRANSACTION 'regress_gid_outside';
SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'regress_gid_outside';
BEGIN;
SELECT 1/0;
PREPARE TRANSACTION 'regress_gid_aborted';
SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'regress_gid_aborted';
BEGIN;
PREPARE TRANSACTION 'regress_gid_empty';
COMMIT PREPARED 'regress_gid_empty';
BEGIN;
SELECT pg_advisory_xact_lock(6001);
PREPARE TRANSACTION 'regress_gid_lock';
-- the prepared transaction (no backend: pid is null) keeps the lock
SELECT mode, granted, pid IS NULL AS held_by_prepared_xact
  FROM pg_locks WHERE locktype = 'advisory' AND objid = 6001;
ROLLBACK PREPARED 'regress_gid_lock';
BEGIN;
SAVEPOINT sp;
INSERT INTO regress_2pc VALUES (4, 'from a savepoint');
RELEASE SAVEPOINT sp;
PREPARE TRANSACTION 'regress_gid_savepoint';
COMMIT PREPARED 'regress_gid_savepoint';
SELECT * FROM regress_2pc ORDER BY id;
SELECT count(*) AS left_over FROM pg_prepared_xacts WHERE gid LIKE 'regress_%';

DROP TABLE regress_2pc;
