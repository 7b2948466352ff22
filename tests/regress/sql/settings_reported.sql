-- Parameters the server reports to the client (ParameterStatus): DateStyle,
-- TimeZone, IntervalStyle, application_name, client_encoding. pg_regress
-- starts psql with PGDATESTYLE, PGTZ and PGAPPNAME, so they arrive in the
-- startup packet; pgwarden promises that they follow the client in both
-- pool modes. The values show up in formatted dates and intervals.
\set QUIET off
SHOW DateStyle;
SHOW TimeZone;
SHOW IntervalStyle;
SHOW application_name;
SHOW client_encoding;
SELECT timestamptz '2024-03-10 12:34:56+00' AS ts, interval '1 day 2 hours 3 seconds' AS iv;

SET DateStyle = 'ISO, DMY';
SET TimeZone = 'Asia/Tokyo';
SET IntervalStyle = 'iso_8601';
SET application_name = 'regress settings';
SELECT timestamptz '2024-03-10 12:34:56+00' AS ts, interval '1 day 2 hours 3 seconds' AS iv;
SHOW application_name;
SELECT 'a statement later' AS step, timestamptz '2024-03-10 12:34:56+00' AS ts;

-- settings made in a rolled back transaction are undone, SET LOCAL ends at commit
BEGIN;
SET TimeZone = 'America/New_York';
SHOW TimeZone;
ROLLBACK;
SHOW TimeZone;
BEGIN;
SET LOCAL DateStyle = 'SQL, MDY';
SELECT date '2024-03-10' AS d;
COMMIT;
SELECT date '2024-03-10' AS d;

-- a setting changed by set_config inside a query
SELECT set_config('TimeZone', 'UTC', false);
SELECT timestamptz '2024-03-10 12:34:56+00' AS ts;
SET TimeZone = 'Europe/Paris';
SELECT timestamptz '2024-03-10 12:34:56+00' AS ts;

-- client_encoding
SET client_encoding = 'LATIN1';
SHOW client_encoding;
SELECT chr(8364) AS euro_has_no_latin1_byte;
SET client_encoding = 'UTF8';
SELECT 'caf' || chr(233) AS word;
SET client_encoding = 'no_such_encoding';

-- errors leave the setting alone
SET DateStyle = 'nonsense';
SET TimeZone = 'Mars/Olympus_Mons';
SHOW DateStyle;
SHOW TimeZone;
