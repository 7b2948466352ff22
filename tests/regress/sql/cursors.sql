-- SQL cursors: DECLARE, FETCH in every direction, MOVE, CLOSE, SCROLL and
-- NO SCROLL, cursors over a changing table, WITH HOLD cursors that outlive
-- their transaction (session state), and psql's FETCH_COUNT, which reads
-- results through a cursor of its own.
\set QUIET off
CREATE TABLE regress_cur (id int PRIMARY KEY, word text);
INSERT INTO regress_cur SELECT g, 'word ' || g FROM generate_series(1, 20) g;

BEGIN;
DECLARE c1 SCROLL CURSOR FOR SELECT * FROM regress_cur ORDER BY id;
FETCH c1;
FETCH NEXT FROM c1;
FETCH 3 FROM c1;
FETCH FORWARD 2 FROM c1;
FETCH PRIOR FROM c1;
FETCH BACKWARD 2 FROM c1;
FETCH FIRST FROM c1;
FETCH LAST FROM c1;
FETCH ABSOLUTE 5 FROM c1;
FETCH ABSOLUTE -2 FROM c1;
FETCH RELATIVE -3 FROM c1;
FETCH RELATIVE 0 FROM c1;
MOVE FORWARD 2 IN c1;
FETCH c1;
MOVE LAST IN c1;
FETCH c1;
FETCH c1;
MOVE BACKWARD ALL IN c1;
FETCH 2 FROM c1;
MOVE ABSOLUTE 18 IN c1;
FETCH ALL FROM c1;
FETCH BACKWARD ALL FROM c1;
SELECT name, statement, is_holdable, is_binary, is_scrollable FROM pg_cursors ORDER BY name;
CLOSE c1;
FETCH c1;
ROLLBACK;

-- NO SCROLL cursors refuse to go backwards; the error aborts the transaction
BEGIN;
DECLARE c2 NO SCROLL CURSOR FOR SELECT id FROM regress_cur WHERE id <= 5 ORDER BY id;
FETCH 2 FROM c2;
FETCH PRIOR FROM c2;
FETCH c2;
ROLLBACK;

-- two cursors at once, CLOSE ALL
BEGIN;
DECLARE even CURSOR FOR SELECT id FROM regress_cur WHERE id % 2 = 0 ORDER BY id;
DECLARE odd CURSOR FOR SELECT id FROM regress_cur WHERE id % 2 = 1 ORDER BY id;
FETCH 2 FROM even;
FETCH 2 FROM odd;
FETCH 2 FROM even;
SELECT name FROM pg_cursors ORDER BY name;
CLOSE ALL;
SELECT count(*) AS open_cursors FROM pg_cursors;
COMMIT;

-- a cursor sees the snapshot of its DECLARE; FOR UPDATE cursors and WHERE CURRENT OF
BEGIN;
DECLARE snap CURSOR FOR SELECT id, word FROM regress_cur WHERE id <= 3 ORDER BY id;
UPDATE regress_cur SET word = 'changed' WHERE id = 2;
FETCH ALL FROM snap;
DECLARE upd CURSOR FOR SELECT id, word FROM regress_cur WHERE id <= 3 ORDER BY id FOR UPDATE;
FETCH upd;
UPDATE regress_cur SET word = 'updated through cursor' WHERE CURRENT OF upd;
DELETE FROM regress_cur WHERE CURRENT OF snap;
ROLLBACK;

-- cursor errors
DECLARE outside CURSOR FOR SELECT 1;
FETCH no_such_cursor;
CLOSE no_such_cursor;
BEGIN;
DECLARE dup CURSOR FOR SELECT 1;
DECLARE dup CURSOR FOR SELECT 2;
ROLLBACK;
BEGIN;
DECLARE bad CURSOR FOR SELECT 1/0;
FETCH bad;
FETCH bad;
ROLLBACK;

-- WITH HOLD cursors stay open after COMMIT (but not after ROLLBACK)
BEGIN;
DECLARE held CURSOR WITH HOLD FOR SELECT id, word FROM regress_cur WHERE id > 15 ORDER BY id;
FETCH 2 FROM held;
COMMIT;
SELECT name, is_holdable FROM pg_cursors ORDER BY name;
FETCH 2 FROM held;
MOVE NEXT IN held;
FETCH ALL FROM held;
FETCH held;
CLOSE held;
SELECT count(*) AS open_cursors FROM pg_cursors;
BEGIN;
DECLARE held2 CURSOR WITH HOLD FOR SELECT id FROM regress_cur ORDER BY id;
ROLLBACK;
FETCH held2;
DECLARE held3 CURSOR WITH HOLD FOR SELECT id FROM regress_cur WHERE id <= 2 ORDER BY id;
FETCH ALL FROM held3;
CLOSE held3;

-- psql's FETCH_COUNT fetches through a cursor named _psql_cursor
\set FETCH_COUNT 7
SELECT id, word FROM regress_cur ORDER BY id;
SELECT id, 10 / (15 - id) AS q FROM regress_cur ORDER BY id;
\unset FETCH_COUNT

DROP TABLE regress_cur;
