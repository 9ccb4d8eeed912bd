CREATE FUNCTION @extschema@.call_fixed_at(p_bytes bytea, p_width integer, p_offset integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The value of p_width bytes (1, 2 or 4, big-endian) at byte p_offset, NULL
-- for the width's NULL marker: vcf._fixed_bytes read back. Not STRICT, so
-- that the planner inlines it into the queries of vcf.calls.
AS $$
SELECT CASE p_width
       WHEN 1 THEN NULLIF(pg_catalog.get_byte(p_bytes, p_offset), 255)
       WHEN 2 THEN NULLIF((((pg_catalog.get_byte(p_bytes, p_offset) << 8)
                            | pg_catalog.get_byte(p_bytes, p_offset + 1)) # 32768) - 32768, -32768)
       ELSE NULLIF(((((pg_catalog.get_byte(p_bytes, p_offset)::bigint << 24)
                      | (pg_catalog.get_byte(p_bytes, p_offset + 1) << 16)
                      | (pg_catalog.get_byte(p_bytes, p_offset + 2) << 8)
                      | pg_catalog.get_byte(p_bytes, p_offset + 3)) # 2147483648) - 2147483648),
                   -2147483648)::integer END
$$;
