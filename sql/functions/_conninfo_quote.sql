CREATE FUNCTION @extschema@._conninfo_quote(p_value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
-- A value quoted for a libpq keyword=value connection string.
RETURN '''' || replace(replace(p_value, '\', '\\'), '''', '\''') || '''';
