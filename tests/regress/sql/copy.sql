-- COPY FROM STDIN and TO STDOUT in text and csv format, psql's \copy (which
-- is COPY FROM STDIN / TO STDOUT underneath), large streams in both
-- directions, and errors inside COPY: bad data, a missing column, a failing
-- constraint, COPY in an aborted transaction.
\set QUIET off
CREATE TABLE regress_copy (id int PRIMARY KEY, name text, amount numeric, note text);

COPY regress_copy FROM STDIN;
1	alpha	1.5	first
2	beta	\N	tab\there
3	gamma	-3	back\\slash
\.
COPY regress_copy (id, name) FROM STDIN WITH (FORMAT text, DELIMITER '|', NULL 'nil');
4|delta
5|nil
\.
COPY regress_copy FROM STDIN WITH (FORMAT csv, HEADER true);
id,name,amount,note
6,"eps, with comma",6.25,"quoted ""note"""
7,,7,
8,"multi
line",8,""
\.
COPY regress_copy FROM STDIN WITH (FORMAT csv, QUOTE '''', FORCE_NULL (note));
9,'single ''quoted''',9,''
\.
SELECT * FROM regress_copy ORDER BY id;

COPY regress_copy TO STDOUT;
COPY regress_copy (id, name, note) TO STDOUT WITH (FORMAT csv, HEADER true, FORCE_QUOTE (name));
COPY (SELECT id, amount FROM regress_copy WHERE amount IS NOT NULL ORDER BY id) TO STDOUT WITH (FORMAT csv, DELIMITER ';');
COPY (SELECT id, note FROM regress_copy WHERE id IN (2, 3, 8) ORDER BY id) TO STDOUT WITH (FORMAT text);
COPY (SELECT 1 WHERE false) TO STDOUT;

-- \copy goes through the same protocol from psql's side
\copy regress_copy (id, name) from stdin
10	from backslash copy
\.
\copy (SELECT id, name FROM regress_copy WHERE id >= 9 ORDER BY id) to stdout with (format csv)

-- a large stream in each direction (the rows are counted, not shown)
CREATE TABLE regress_copy_big (n int, pad text);
\copy regress_copy_big (n) from program 'seq 1 20000'
SELECT count(*), sum(n), min(n), max(n) FROM regress_copy_big;
UPDATE regress_copy_big SET pad = repeat(md5(n::text), 8);
\copy (SELECT n, pad FROM regress_copy_big ORDER BY n) to program 'md5sum'
\copy (SELECT n, pad FROM regress_copy_big ORDER BY n) to program 'wc -lc'
COPY (SELECT n, pad FROM regress_copy_big ORDER BY n LIMIT 3) TO STDOUT;

-- errors inside COPY
COPY regress_copy (id, name) FROM STDIN;
11	fine
twelve	not a number
13	never reached
\.
COPY regress_copy (id, name) FROM STDIN;
14
\.
COPY regress_copy (id, name) FROM STDIN;
15	extra	column
\.
COPY regress_copy (id, name) FROM STDIN WITH (FORMAT csv);
16,"unterminated
\.
COPY regress_copy (id, name) FROM STDIN;
1	duplicate key
\.
COPY regress_copy (no_such_column) FROM STDIN;
COPY no_such_table FROM STDIN;
COPY regress_copy TO STDOUT WITH (FORMAT nonsense);
COPY (SELECT 1/0) TO STDOUT;
COPY (SELECT g, 10 / (3 - g) FROM generate_series(1, 5) g) TO STDOUT;
SELECT count(*) AS rows_after_errors FROM regress_copy;

-- COPY inside a transaction: an error aborts it, a savepoint rescues it
BEGIN;
COPY regress_copy (id, name) FROM STDIN;
20	in transaction
\.
SAVEPOINT before_bad_copy;
COPY regress_copy (id, name) FROM STDIN;
21	ok
x	bad
\.
ROLLBACK TO SAVEPOINT before_bad_copy;
COPY regress_copy (id, name) FROM STDIN;
22	after rescue
\.
COPY regress_copy (id, name) FROM STDIN;
y	bad again
\.
COPY regress_copy TO STDOUT;
COMMIT;
SELECT id, name FROM regress_copy WHERE id >= 20 ORDER BY id;

-- a COPY in the middle of a multi-statement query string
SELECT 'before' AS step \; COPY (SELECT id FROM regress_copy WHERE id <= 3 ORDER BY id) TO STDOUT \; SELECT 'after' AS step;

DROP TABLE regress_copy, regress_copy_big;
