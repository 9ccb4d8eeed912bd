CREATE FUNCTION @extschema@._gt_byte(p_gt smallint[], p_phased boolean)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One sample's GT of ploidy up to 2 as the byte of a compact gt column: bits
-- 0-1 the first allele, bits 2-3 the second, as codes 0 REF, 1 this ALT,
-- 2 missing, 3 none (a haploid call's second allele, or no GT at all);
-- bit 4 phased. vcf.call_gt and vcf.call_phased read it back.
AS $$
SELECT CASE WHEN p_gt IS NULL THEN 15
            ELSE coalesce(p_gt[1], 2)
                 | (CASE WHEN pg_catalog.cardinality(p_gt) < 2 THEN 3 ELSE coalesce(p_gt[2], 2) END << 2)
                 | (CASE WHEN p_phased THEN 16 ELSE 0 END) END
$$;
