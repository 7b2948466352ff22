-- Temporary tables, views and sequences: visible only in their session,
-- shadowing permanent tables, ON COMMIT DELETE ROWS / DROP, and the
-- transaction restrictions on them. Session state: transaction pooling
-- cannot keep them. Schema names (pg_temp_N) are never printed.
\set QUIET off
CREATE TABLE regress_shadow (id int, origin text);
INSERT INTO regress_shadow VALUES (1, 'permanent');

CREATE TEMP TABLE regress_tmp (id int PRIMARY KEY, v text);
INSERT INTO regress_tmp VALUES (1, 'one'), (2, 'two');
SELECT * FROM regress_tmp ORDER BY id;
SELECT relpersistence, relname FROM pg_class WHERE relname = 'regress_tmp';
SELECT n.nspname LIKE 'pg_temp_%' AS in_temp_schema, pg_my_temp_schema() = n.oid AS mine
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'regress_tmp';

-- a temp table shadows a permanent one of the same name
CREATE TEMP TABLE regress_shadow (id int, origin text);
INSERT INTO regress_shadow VALUES (2, 'temporary');
SELECT * FROM regress_shadow ORDER BY id;
SELECT * FROM public.regress_shadow ORDER BY id;
SELECT * FROM pg_temp.regress_shadow ORDER BY id;
DROP TABLE regress_shadow;
SELECT * FROM regress_shadow ORDER BY id;

-- ON COMMIT DELETE ROWS and ON COMMIT DROP
CREATE TEMP TABLE regress_tmp_rows (n int) ON COMMIT DELETE ROWS;
BEGIN;
INSERT INTO regress_tmp_rows VALUES (1), (2);
SELECT count(*) AS during FROM regress_tmp_rows;
COMMIT;
SELECT count(*) AS after_commit FROM regress_tmp_rows;
BEGIN;
CREATE TEMP TABLE regress_tmp_drop (n int) ON COMMIT DROP;
INSERT INTO regress_tmp_drop VALUES (1);
SELECT count(*) FROM regress_tmp_drop;
COMMIT;
SELECT count(*) FROM regress_tmp_drop;
CREATE TEMP TABLE regress_tmp_drop_outside (n int) ON COMMIT DROP;
SELECT count(*) FROM regress_tmp_drop_outside;

-- created in a rolled back transaction: gone
BEGIN;
CREATE TEMP TABLE regress_tmp_rolled_back (n int);
ROLLBACK;
SELECT * FROM regress_tmp_rolled_back;

-- temp views, sequences and indexes; a view on a temp table is temporary too
CREATE TEMP SEQUENCE regress_tmp_seq START 100;
SELECT nextval('regress_tmp_seq'), nextval('regress_tmp_seq');
SELECT currval('regress_tmp_seq');
CREATE TEMP VIEW regress_tmp_view AS SELECT id, upper(v) AS v FROM regress_tmp;
SELECT * FROM regress_tmp_view ORDER BY id;
CREATE INDEX ON regress_tmp (v);
CREATE VIEW regress_perm_view AS SELECT * FROM regress_tmp;
INSERT INTO regress_tmp SELECT g, 'row ' || g FROM generate_series(3, 1000) g;
ANALYZE regress_tmp;
SELECT count(*), max(id) FROM regress_tmp;
CREATE TEMP TABLE regress_tmp_like (LIKE regress_tmp INCLUDING ALL);
SELECT count(*) FROM regress_tmp_like;

-- errors: constraint violation, temp tables cannot be referenced by permanent
-- ones, and a transaction that touched a temp table cannot be prepared
INSERT INTO regress_tmp VALUES (1, 'duplicate');
CREATE TABLE regress_perm_ref (id int REFERENCES regress_tmp(id));
BEGIN;
INSERT INTO regress_tmp VALUES (5000, 'in 2pc');
PREPARE TRANSACTION 'regress_temp_2pc';
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE gid = 'regress_temp_2pc';
SELECT count(*) AS rows_5000 FROM regress_tmp WHERE id = 5000;

-- DISCARD TEMP drops every temp object of the session
DISCARD TEMP;
SELECT count(*) FROM regress_tmp;
SELECT nextval('regress_tmp_seq');

DROP TABLE public.regress_shadow;
