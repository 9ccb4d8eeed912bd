CREATE FUNCTION @extschema@._forget_key(p_key_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Drops an unlocked key before the transaction ends (after crypto-shredding).
    PERFORM set_config(@extschema@._key_setting(p_key_id), '', true);
END
$$;

