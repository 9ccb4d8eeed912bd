CREATE FUNCTION @extschema@._json_element(p_element text, p_type text)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
-- One INFO/FORMAT element typed as its header says (docs/vcf-semantics.md):
-- '.' is null; an element that does not parse as its type stays a string.
-- STABLE like to_jsonb, so that the planner inlines it.
AS $$
SELECT CASE
    WHEN p_type = 'Flag' THEN 'true'::jsonb
    WHEN p_element IS NULL OR p_element = '.' THEN 'null'::jsonb
    WHEN p_type = 'Integer' AND p_element ~ '^[-+]?[0-9]{1,18}$' THEN to_jsonb(p_element::bigint)
    WHEN p_type = 'Float' AND p_element ~* '^[-+]?nan$' THEN '"NaN"'::jsonb
    WHEN p_type = 'Float' AND p_element ~* '^\+?inf(inity)?$' THEN '"Infinity"'::jsonb
    WHEN p_type = 'Float' AND p_element ~* '^-inf(inity)?$' THEN '"-Infinity"'::jsonb
    WHEN p_type = 'Float' AND @extschema@._is_decimal(p_element) THEN to_jsonb(p_element::numeric)
    ELSE to_jsonb(@extschema@._pct_decode(p_element))
END
$$;

