CREATE FUNCTION @extschema@.call_ints(p_column bytea, p_sample integer)
RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's AD or PL from a records row's ad or pl column: byte 0
-- the values' width, byte 1 the counts' width, bytes 2-5 the slots per
-- sample, then per sample its count and its slots (vcf._list_bytes).
AS $$
SELECT CASE WHEN h.c IS NULL THEN NULL
            ELSE ARRAY(SELECT @extschema@.call_fixed_at(p_column, h.w, h.o + h.cw + h.w * j.j)
                         FROM pg_catalog.generate_series(0, h.c - 1) AS j(j) ORDER BY j.j) END
  FROM (SELECT x.w, x.cw, x.o,
               CASE WHEN x.cw = 1 THEN NULLIF(pg_catalog.get_byte(p_column, x.o), 255)
                    ELSE NULLIF(@extschema@.call_fixed_at(p_column, 4, x.o), -1) END AS c
          FROM (SELECT y.w, y.cw, 6 + (p_sample - 1) * (y.cw + y.w * @extschema@.call_fixed_at(p_column, 4, 2)) AS o
                  FROM (SELECT pg_catalog.get_byte(p_column, 0) AS w,
                               pg_catalog.get_byte(p_column, 1) AS cw) AS y) AS x) AS h
$$;
