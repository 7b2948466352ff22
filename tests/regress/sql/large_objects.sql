-- Large objects through the server-side SQL functions (lo_create, lo_open,
-- lowrite, loread, lo_lseek, lo_tell, lo_truncate, lo_get, lo_put, lo_unlink)
-- and through psql's \lo_import / \lo_export, which use libpq's large-object
-- API: FunctionCall messages, not queries. OIDs are kept in psql variables,
-- never printed (psql echoes the line before it substitutes them).
\set QUIET off
\set INV_READ 262144
\set INV_RW 393216

-- create, write, seek, read, truncate: descriptors live for one transaction
SELECT lo_create(0) AS loid \gset
BEGIN;
SELECT lo_open(:loid, :INV_RW) AS fd \gset
SELECT lowrite(:fd, 'hello, large object');
SELECT lo_tell(:fd);
SELECT lo_lseek(:fd, 7, 0);
SELECT loread(:fd, 5);
SELECT convert_from(loread(:fd, 100), 'UTF8');
SELECT lo_lseek(:fd, -6, 2);
SELECT lowrite(:fd, 'OBJECT');
SELECT lo_lseek64(:fd, 0, 0);
SELECT convert_from(loread(:fd, 100), 'UTF8');
SELECT lo_truncate(:fd, 5);
SELECT lo_lseek(:fd, 0, 2) AS size_after_truncate;
SELECT lo_close(:fd);
COMMIT;
SELECT convert_from(lo_get(:loid), 'UTF8');

-- partial reads and writes without a descriptor
SELECT lo_put(:loid, 5, ', world');
SELECT convert_from(lo_get(:loid), 'UTF8');
SELECT convert_from(lo_get(:loid, 7, 3), 'UTF8');
SELECT lo_put(:loid, 20, 'gap');
SELECT lo_get(:loid);

-- a read-only descriptor refuses writes
BEGIN;
SELECT lo_open(:loid, :INV_READ) AS rfd \gset
SELECT convert_from(loread(:rfd, 5), 'UTF8');
SELECT lowrite(:rfd, 'nope');
ROLLBACK;

-- a large object written in a rolled back transaction does not exist
BEGIN;
SELECT lo_from_bytea(0, 'rolled back') AS gone \gset
SELECT convert_from(lo_get(:gone), 'UTF8');
ROLLBACK;
SELECT count(*) AS rolled_back_objects FROM pg_largeobject_metadata WHERE oid = :gone;

-- errors: unknown objects and descriptors, descriptors after their transaction
SELECT lo_open(4294967000, :INV_READ);
SELECT lo_get(4294967000);
SELECT lo_unlink(4294967000);
SELECT loread(17, 10);
SELECT lo_open(:loid, :INV_READ) AS stale_fd \gset
SELECT loread(:stale_fd, 5);
BEGIN;
SELECT lo_close(42);
SELECT lo_create(0);
ROLLBACK;

-- a larger object: 320 kB, read back in pieces
SELECT lo_from_bytea(0, convert_to(string_agg(md5(g::text), '' ORDER BY g), 'UTF8')) AS big
  FROM generate_series(1, 10000) g \gset
SELECT length(lo_get(:big)), md5(lo_get(:big));
BEGIN;
SELECT lo_open(:big, :INV_READ) AS bfd \gset
SELECT lo_lseek(:bfd, 160000, 0);
SELECT convert_from(loread(:bfd, 32), 'UTF8');
SELECT lo_lseek64(:bfd, 0, 2);
COMMIT;

-- psql's \lo_export and \lo_import: client-side files, libpq FunctionCalls.
-- QUIET hides the "lo_import <oid>" line; the OID lands in :LASTOID.
\getenv regress_dir PG_ABS_BUILDDIR
\set small_file :regress_dir '/results/large_objects_small.bin'
\set big_file :regress_dir '/results/large_objects_big.bin'
\lo_export :loid :small_file
\lo_export :big :big_file
\set QUIET on
\lo_import :small_file 'imported small'
\set QUIET off
\set small_copy :LASTOID
\set QUIET on
\lo_import :big_file
\set QUIET off
\set big_copy :LASTOID
SELECT lo_get(:small_copy) = lo_get(:loid) AS small_equal,
       lo_get(:big_copy) = lo_get(:big) AS big_equal,
       md5(lo_get(:big_copy));
SELECT obj_description(:small_copy, 'pg_largeobject');
\lo_export 4294967000 :small_file
\lo_import /nonexistent/regress/file
BEGIN;
\lo_export :loid :small_file
SELECT 'still in the transaction' AS status;
COMMIT;

-- ownership and clean up; \lo_unlink is a FunctionCall too
SELECT count(*) AS objects_owned FROM pg_largeobject_metadata WHERE lomowner = current_user::regrole;
SELECT lo_unlink(:loid), lo_unlink(:big);
\set QUIET on
\lo_unlink :small_copy
\lo_unlink :big_copy
\set QUIET off
SELECT count(*) AS objects_owned FROM pg_largeobject_metadata WHERE lomowner = current_user::regrole;
