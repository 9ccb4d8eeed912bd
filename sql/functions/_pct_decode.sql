CREATE FUNCTION @extschema@._pct_decode(p_value text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    -- Decodes VCF percent-encoding (%3B ; %3D = %2C , %25 % ...). Bytes
    -- that do not form valid UTF-8 leave the value as it was written.
    IF strpos(p_value, '%') = 0 THEN
        RETURN p_value;
    END IF;
    RETURN convert_from(
        (SELECT string_agg(CASE WHEN r.m[1] IS NOT NULL THEN decode(substr(r.m[1], 2), 'hex')
                                ELSE convert_to(r.m[2], 'UTF8') END, ''::bytea ORDER BY r.o)
           FROM regexp_matches(p_value, '(%[0-9A-Fa-f]{2})|([^%]+|%)', 'g') WITH ORDINALITY AS r(m, o)),
        'UTF8');
EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
    RETURN p_value;
END
$$;

