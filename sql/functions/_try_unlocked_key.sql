CREATE FUNCTION @extschema@._try_unlocked_key(p_key_id uuid)
RETURNS bytea
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_setting text := current_setting(@extschema@._key_setting(p_key_id), true);
    v_key     bytea;
    v_done    boolean;
BEGIN
    -- The data key usable in this transaction, or NULL: the key given to
    -- vcf.unlock(key_id, key) (hex in the transaction-local setting, checked
    -- again against the key check value and for vcf.unlock's audit row of
    -- this transaction, as SET LOCAL can write the setting); else,
    -- with the plpython companion, the key vcf.unlock(key_id) unwrapped
    -- inside the server (the setting then holds only 'server:' and a token);
    -- else, when the DBA configured server-side unwrapping, unwrapped now
    -- (vcf._server_unlock: audited as an unlock), so that a plain SQL client
    -- needs no key handling at all. The companion is called through dynamic
    -- SQL: the core extension does not depend on it. VOLATILE: it may
    -- unlock. Raises what vcf.unlock(key_id) raises when configured
    -- unwrapping fails (VP002, VP003, VP008). Granted to no one.
    IF v_setting <> '' AND left(v_setting, 7) <> 'server:' THEN
        -- vcf.unlock checked it and wrote its audit row in this transaction;
        -- a key put there with SET LOCAL has neither, and opens nothing.
        v_key := decode(v_setting, 'hex');
        IF NOT EXISTS (SELECT 1 FROM @extschema@.data_keys k
                        WHERE k.key_id = p_key_id AND k.state <> 'destroyed'
                          AND k.key_check = @extschema@._key_check(v_key))
           OR NOT EXISTS (SELECT 1 FROM @extschema@.audit_seal_queue q
                            JOIN @extschema@.audit_log a ON a.audit_id = q.audit_id
                           WHERE a.action = 'unlock' AND a.target = p_key_id::text AND a.succeeded
                             AND a.xact_id = pg_catalog.pg_current_xact_id_if_assigned()
                             AND a.backend_pid = pg_catalog.pg_backend_pid()) THEN
            RETURN NULL;
        END IF;
        RETURN v_key;
    END IF;
    IF to_regprocedure('@extschema@._server_unlocked_key(uuid)') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT @extschema@._server_unlocked_key($1)' INTO v_key USING p_key_id;
    IF v_key IS NULL THEN
        EXECUTE 'SELECT @extschema@._server_unlock($1)' INTO v_done USING p_key_id;
        IF v_done THEN
            EXECUTE 'SELECT @extschema@._server_unlocked_key($1)' INTO v_key USING p_key_id;
        END IF;
    END IF;
    RETURN v_key;
END
$$;
