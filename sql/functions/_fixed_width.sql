CREATE FUNCTION @extschema@._fixed_width(p_lo integer, p_hi integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The width in bytes (1, 2 or 4) of a row's gq, dp, ad or pl values, from
-- their smallest and largest: the narrowest that holds both and leaves the
-- width's NULL marker free (docs/architecture.md, "Genotype columns").
AS $$
SELECT CASE WHEN p_lo >= 0 AND p_hi <= 254 THEN 1
            WHEN p_lo >= -32767 AND p_hi <= 32767 THEN 2
            ELSE 4 END
$$;
