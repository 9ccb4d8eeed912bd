CREATE FUNCTION @extschema@.call_gt(p_column bytea, p_sample integer)
RETURNS smallint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's GT, recoded to the row's ALT (0 REF, 1 this ALT, 0
-- another ALT, NULL missing), from a records row's gt column; NULL when the
-- sample has no GT. Byte 0 is 1 for the compact form, one byte per sample
-- (vcf._gt_byte), 2 for the wide one (vcf.call_gt_wide). Not STRICT, so
-- that the planner inlines it.
AS $$
SELECT CASE WHEN p_column IS NULL THEN NULL
            WHEN pg_catalog.get_byte(p_column, 0) = 1 THEN
                CASE WHEN pg_catalog.get_byte(p_column, p_sample) & 3 = 3 THEN NULL
                     WHEN (pg_catalog.get_byte(p_column, p_sample) >> 2) & 3 = 3
                         THEN ARRAY[NULLIF(pg_catalog.get_byte(p_column, p_sample) & 3, 2)]::smallint[]
                     ELSE ARRAY[NULLIF(pg_catalog.get_byte(p_column, p_sample) & 3, 2),
                                NULLIF((pg_catalog.get_byte(p_column, p_sample) >> 2) & 3, 2)]::smallint[] END
            ELSE @extschema@.call_gt_wide(p_column, p_sample) END
$$;
