CREATE FUNCTION @extschema@._unlocked_key(p_key_id uuid)
RETURNS bytea
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_key bytea := @extschema@._try_unlocked_key(p_key_id);
BEGIN
    -- The key that vcf.unlock made usable in this transaction (or that
    -- configured in-server unwrapping unwraps now: vcf._try_unlocked_key).
    -- Raises VP004 when it has not been unlocked.
    IF v_key IS NULL THEN
        RAISE EXCEPTION 'data key % is not unlocked in this transaction', p_key_id
            USING ERRCODE = 'VP004',
                  HINT = 'Call vcf.unlock(key_id, key) in the same transaction first (vcfctl does this for you).';
    END IF;
    RETURN v_key;
END
$$;
