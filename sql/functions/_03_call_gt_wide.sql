CREATE FUNCTION @extschema@.call_gt_wide(p_column bytea, p_sample integer)
RETURNS smallint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's GT from a gt column of ploidy above 2: byte 0 is 2,
-- bytes 1-4 the ploidy P, then P bytes per sample (vcf._gt_wide_bytes).
AS $$
SELECT CASE WHEN p_column IS NULL OR pg_catalog.get_byte(p_column, x.o) & 3 = 3 THEN NULL
            ELSE ARRAY(SELECT NULLIF(pg_catalog.get_byte(p_column, x.o + k.k) & 3, 2)::smallint
                         FROM pg_catalog.generate_series(0, x.p - 1) AS k(k)
                        WHERE pg_catalog.get_byte(p_column, x.o + k.k) & 3 <> 3
                        ORDER BY k.k) END
  FROM (SELECT y.p, 5 + y.p * (p_sample - 1) AS o
          FROM (SELECT @extschema@.call_fixed_at(p_column, 4, 1) AS p) AS y) AS x
$$;
