CREATE FUNCTION @extschema@._gt_wide_bytes(p_gt smallint[], p_phased boolean, p_ploidy integer)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One sample's GT in a row whose largest ploidy p_ploidy is above 2: one
-- byte per allele, the codes of vcf._gt_byte (3 after the last allele), bit
-- 4 of the first byte phased.
AS $$
SELECT pg_catalog.string_agg(pg_catalog.set_byte('\x00'::bytea, 0,
           CASE WHEN p_gt IS NULL OR k.k > pg_catalog.cardinality(p_gt) THEN 3
                ELSE coalesce(p_gt[k.k], 2) END
           | CASE WHEN k.k = 1 AND p_gt IS NOT NULL AND p_phased THEN 16 ELSE 0 END),
           ''::bytea ORDER BY k.k)
  FROM pg_catalog.generate_series(1, p_ploidy) AS k(k)
$$;
