CREATE FUNCTION @extschema@._unlocked_key(p_key_id uuid)
RETURNS bytea
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_hex text := current_setting(@extschema@._key_setting(p_key_id), true);
BEGIN
    -- The key that vcf.unlock made usable in this transaction.
    -- Raises VP004 when it has not been unlocked.
    IF v_hex IS NULL OR v_hex = '' THEN
        RAISE EXCEPTION 'data key % is not unlocked in this transaction', p_key_id
            USING ERRCODE = 'VP004',
                  HINT = 'Call vcf.unlock(key_id, key) in the same transaction first (vcfctl does this for you).';
    END IF;
    RETURN decode(v_hex, 'hex');
END
$$;

