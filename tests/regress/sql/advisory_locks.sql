-- Advisory locks: session-level (held until unlocked or the session ends:
-- session state) and transaction-level (released at commit or rollback),
-- exclusive and shared, bigint and two-int keys, the warnings for unlocking
-- what is not held. Only this backend's locks are listed, never its PID.
\set QUIET off
CREATE VIEW regress_my_locks AS
  SELECT classid, objid, objsubid, mode, granted
    FROM pg_locks
   WHERE locktype = 'advisory' AND pid = pg_backend_pid();

-- session locks are reentrant and counted
SELECT pg_advisory_lock(1001);
SELECT pg_advisory_lock(1001);
SELECT pg_try_advisory_lock(1002);
SELECT pg_advisory_lock_shared(1003);
SELECT pg_advisory_lock(7, 8);
SELECT pg_advisory_lock(-1);
SELECT * FROM regress_my_locks ORDER BY classid, objid, objsubid, mode;
SELECT pg_advisory_unlock(1001);
SELECT * FROM regress_my_locks WHERE objid = 1001;
SELECT pg_advisory_unlock(1001);
SELECT * FROM regress_my_locks WHERE objid = 1001;

-- unlocking what is not held warns and returns false
SELECT pg_advisory_unlock(1001);
SELECT pg_advisory_unlock(1003);
SELECT pg_advisory_unlock_shared(1002);
SELECT pg_advisory_unlock(424242);

-- session locks survive a rollback
BEGIN;
SELECT pg_advisory_lock(2001);
ROLLBACK;
SELECT * FROM regress_my_locks WHERE objid = 2001;

-- transaction locks go away at commit and rollback; they cannot be unlocked
BEGIN;
SELECT pg_advisory_xact_lock(3001);
SELECT pg_advisory_xact_lock_shared(3002);
SELECT pg_try_advisory_xact_lock(3, 4);
SELECT pg_try_advisory_xact_lock_shared(3003);
SELECT * FROM regress_my_locks WHERE objid BETWEEN 3000 AND 3999 OR classid = 3 ORDER BY classid, objid, objsubid, mode;
SELECT pg_advisory_unlock(3001);
COMMIT;
SELECT count(*) AS xact_locks_after_commit FROM regress_my_locks WHERE objid BETWEEN 3000 AND 3999 OR classid = 3;
BEGIN;
SELECT pg_advisory_xact_lock(3004);
SELECT 1/0;
ROLLBACK;
SELECT count(*) AS xact_locks_after_error FROM regress_my_locks WHERE objid = 3004;

-- a lock taken in a statement that then fails: session lock kept, xact lock gone
SELECT pg_advisory_lock(4001), 1 / (g - 1) FROM generate_series(1, 1) g;
SELECT pg_advisory_xact_lock(4002), 1 / (g - 1) FROM generate_series(1, 1) g;
SELECT objid, mode FROM regress_my_locks WHERE objid IN (4001, 4002) ORDER BY objid;
SELECT pg_advisory_unlock(4001);

-- the same key at session and transaction level in one transaction
BEGIN;
SELECT pg_advisory_xact_lock(1002);
SELECT objid, mode, granted FROM regress_my_locks WHERE objid = 1002 ORDER BY mode;
COMMIT;

-- a shared and an exclusive lock on one key by one session both succeed
SELECT pg_try_advisory_lock_shared(5001), pg_try_advisory_lock(5001);
SELECT objid, mode FROM regress_my_locks WHERE objid = 5001 ORDER BY mode;

-- release everything
SELECT pg_advisory_unlock_all();
SELECT count(*) AS locks_left FROM regress_my_locks;
DROP VIEW regress_my_locks;
