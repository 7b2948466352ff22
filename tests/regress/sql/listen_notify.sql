-- LISTEN / NOTIFY / UNLISTEN and pg_notify within one session: psql prints
-- "Asynchronous notification ... received" after the command that carried
-- it. Notifications are delivered at commit, not at all after a rollback,
-- and duplicates in one transaction collapse. The sending PID in psql's line
-- is the server's and changes from run to run: the psql launcher
-- (tests/regress/psql_launcher.sh) replaces it with <pid>. LISTEN is session
-- state: transaction pooling cannot keep it.
\set QUIET off
SELECT pg_listening_channels();
LISTEN regress_chan;
LISTEN "Regress Quoted";
LISTEN regress_chan;
SELECT pg_listening_channels() AS channel ORDER BY 1;

NOTIFY regress_chan;
NOTIFY regress_chan, 'with a payload';
NOTIFY "Regress Quoted", 'quoted channel';
SELECT pg_notify('regress_chan', 'from pg_notify');
NOTIFY regress_not_listened, 'nobody hears this';

-- inside a transaction: delivered at commit, duplicates collapse, order kept
BEGIN;
NOTIFY regress_chan, 'first';
NOTIFY regress_chan, 'second';
NOTIFY regress_chan, 'first';
SELECT 'nothing delivered yet' AS status;
COMMIT;
BEGIN;
NOTIFY regress_chan, 'rolled back';
ROLLBACK;
BEGIN;
SAVEPOINT s;
NOTIFY regress_chan, 'in a rolled back savepoint';
ROLLBACK TO SAVEPOINT s;
NOTIFY regress_chan, 'after the savepoint';
COMMIT;

-- a notification and an error in one query string: the error rolls it back
NOTIFY regress_chan, 'lost with the error' \; SELECT 1/0;

-- payload and channel errors
NOTIFY regress_chan, 'this payload is fine';
SELECT pg_notify('', 'empty channel');
SELECT pg_notify('regress_chan', repeat('x', 8000));
SELECT pg_notify(NULL, 'null channel');

-- UNLISTEN stops delivery
UNLISTEN regress_chan;
NOTIFY regress_chan, 'not delivered after UNLISTEN';
NOTIFY "Regress Quoted", 'still listening here';
UNLISTEN *;
NOTIFY "Regress Quoted", 'not delivered after UNLISTEN *';
SELECT count(*) AS channels FROM pg_listening_channels();
UNLISTEN never_listened;

-- LISTEN in a transaction takes effect at commit
BEGIN;
LISTEN regress_tx_chan;
NOTIFY regress_tx_chan, 'sent in the same transaction';
COMMIT;
BEGIN;
LISTEN regress_rolled_back_chan;
ROLLBACK;
NOTIFY regress_rolled_back_chan, 'not listening';
SELECT pg_listening_channels() AS channel ORDER BY 1;
UNLISTEN *;
