CREATE FUNCTION @extschema@._allele_key(p_ref text, p_alt text)
RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE
-- Unique key of an allele pair; alleles may exceed a btree entry's size.
-- STABLE like convert_to, so that the planner inlines it.
RETURN sha256(convert_to(p_ref || E'\t' || p_alt, 'UTF8'));

