CREATE FUNCTION @extschema@._promoted(p_key text, p_definition jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The calls column a FORMAT field is promoted to ('gq', 'dp', 'ad', 'pl'),
-- or NULL: only when the header defines it with exactly the expected
-- Number and Type Integer (docs/vcf-semantics.md).
AS $$
SELECT CASE WHEN p_definition->>'type' IS DISTINCT FROM 'Integer' THEN NULL
            WHEN p_key = 'GQ' AND p_definition->>'number' = '1' THEN 'gq'
            WHEN p_key = 'DP' AND p_definition->>'number' = '1' THEN 'dp'
            WHEN p_key = 'AD' AND p_definition->>'number' = 'R' THEN 'ad'
            WHEN p_key = 'PL' AND p_definition->>'number' = 'G' THEN 'pl' END
$$;

