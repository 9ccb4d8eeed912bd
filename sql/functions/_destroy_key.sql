CREATE FUNCTION @extschema@._destroy_key(p_key_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Crypto-shredding: erases the wrapped key, so what it encrypted can no
    -- longer be read by anyone, and forgets it if unlocked.
    UPDATE @extschema@.data_keys
       SET wrapped_key = NULL, state = 'destroyed', destroyed_at = clock_timestamp()
     WHERE key_id = p_key_id AND state <> 'destroyed';
    IF FOUND THEN
        PERFORM @extschema@._audit('destroy', p_key_id::text, true, '{}');
    END IF;
    PERFORM @extschema@._forget_key(p_key_id);
END
$$;

