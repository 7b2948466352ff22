-- RESET of a parameter the client sent in its startup packet goes back to
-- the startup value (PostgreSQL keeps it as the session's reset value), as
-- do RESET ALL and DISCARD ALL. pg_regress sets PGDATESTYLE, PGTZ and
-- PGAPPNAME for psql.
\set QUIET off
SHOW DateStyle;
SHOW TimeZone;
SHOW application_name;
SET DateStyle = 'ISO, DMY';
SET TimeZone = 'Asia/Tokyo';
SET application_name = 'changed';
RESET DateStyle;
RESET TimeZone;
RESET application_name;
SHOW DateStyle;
SHOW TimeZone;
SHOW application_name;
SET DateStyle = 'ISO, DMY';
SET TimeZone = 'Asia/Tokyo';
RESET ALL;
SHOW DateStyle;
SHOW TimeZone;
SET TimeZone = 'Asia/Tokyo';
DISCARD ALL;
SHOW TimeZone;
-- pg_settings.source is left out: through pgwarden it says 'session' where
-- PostgreSQL says 'client' (README.md, documented difference).
SELECT name, setting FROM pg_settings WHERE name IN ('DateStyle', 'TimeZone') ORDER BY name;
