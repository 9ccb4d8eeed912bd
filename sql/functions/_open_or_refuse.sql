CREATE FUNCTION @extschema@._open_or_refuse(p_key bytea, p_blob bytea, p_context text, p_what text)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_plain bytea := @extschema@._open(p_key, p_blob, p_context);
BEGIN
    -- vcf._open for a value that must open (key rotation): raises VP082,
    -- naming p_what (ids only, never the value), when it does not.
    IF v_plain IS NULL THEN
        RAISE EXCEPTION '% does not decrypt', p_what
            USING ERRCODE = 'VP082',
                  HINT = 'The stored value was modified or moved; restore it from a backup, then resume.';
    END IF;
    RETURN v_plain;
END
$$;
