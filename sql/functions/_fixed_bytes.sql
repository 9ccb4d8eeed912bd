CREATE FUNCTION @extschema@._fixed_bytes(p_value integer, p_width integer)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One value at a fixed width, big-endian; NULL is the width's marker: 255,
-- -32768 or -2147483648 (which VCF reserves for a missing value, so that a
-- file's -2147483648 reads back as missing).
AS $$
SELECT CASE p_width
       WHEN 1 THEN pg_catalog.set_byte('\x00'::bytea, 0, coalesce(p_value, 255))
       WHEN 2 THEN pg_catalog.substr(pg_catalog.int4send(coalesce(p_value, -32768)), 3, 2)
       ELSE pg_catalog.int4send(coalesce(p_value, -2147483648)) END
$$;
