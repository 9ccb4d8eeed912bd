CREATE FUNCTION @extschema@._element_ok(p_element text, p_type text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Whether an element parses as its type ('.' always does).
AS $$
SELECT CASE
    WHEN p_element IS NULL OR p_element = '.' THEN true
    WHEN p_type = 'Integer' THEN p_element ~ '^[-+]?[0-9]{1,18}$'
    WHEN p_type = 'Float' THEN @extschema@._is_decimal(p_element)
                               OR p_element ~* '^[-+]?(nan|inf|infinity)$'
    ELSE true
END
$$;

