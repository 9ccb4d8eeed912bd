CREATE FUNCTION @extschema@.rewrap_key(
    p_key_id uuid, p_old_wrapped_sha256 bytea, p_kek_id text, p_provider text,
    p_wrapped_key bytea)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row @extschema@.data_keys%ROWTYPE;
BEGIN
    -- Replaces a data key's wrapped form by the same key wrapped under
    -- another KEK (vcfctl keys rewrap, after it has checked that the new
    -- form unwraps to the key's check value). Compare-and-swap: only if the
    -- stored wrapped key still has sha256 p_old_wrapped_sha256, so a
    -- concurrent rewrap or destroy is never overwritten. The key check value
    -- and encryption context stay; no data is touched. Audited ('rewrap').
    -- SECURITY DEFINER: key admins read vcf.data_keys but may not write it.
    -- Raises VP002 (no such key), VP060 (destroyed), VP061 (changed since it
    -- was read; refusal audited), VP062 (invalid provider, KEK id or key).
    IF p_provider IS NULL OR p_provider NOT IN ('local', 'aws-kms', 'env')
       OR coalesce(p_kek_id, '') = '' OR coalesce(length(p_wrapped_key), 0) = 0
       OR p_old_wrapped_sha256 IS NULL THEN
        RAISE EXCEPTION 'rewrap of data key % needs a known provider, a KEK id, a wrapped key and the old one''s sha256',
            p_key_id
            USING ERRCODE = 'VP062', HINT = 'Use "vcfctl keys rewrap".';
    END IF;
    SELECT * INTO v_row FROM @extschema@.data_keys WHERE key_id = p_key_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'data key % does not exist', p_key_id
            USING ERRCODE = 'VP002', HINT = 'List keys with "vcfctl keys list".';
    END IF;
    IF v_row.state = 'destroyed' THEN
        RAISE EXCEPTION 'data key % has been destroyed; there is nothing to rewrap', p_key_id
            USING ERRCODE = 'VP060', HINT = 'Destroyed keys stay destroyed.';
    END IF;
    IF pg_catalog.sha256(v_row.wrapped_key) <> p_old_wrapped_sha256 THEN
        PERFORM @extschema@._audit_autonomous_try('rewrap', p_key_id::text, false,
            jsonb_build_object('sqlstate', 'VP061', 'kek_id', v_row.kek_id));
        RAISE EXCEPTION 'data key % was changed since it was read', p_key_id
            USING ERRCODE = 'VP061', HINT = 'Run "vcfctl keys rewrap" again.';
    END IF;
    UPDATE @extschema@.data_keys
       SET provider = p_provider, kek_id = p_kek_id, wrapped_key = p_wrapped_key
     WHERE key_id = p_key_id;
    PERFORM @extschema@._audit('rewrap', p_key_id::text, true,
        jsonb_build_object('purpose', v_row.purpose,
                           'from_provider', v_row.provider, 'from_kek_id', v_row.kek_id,
                           'to_provider', p_provider, 'to_kek_id', p_kek_id));
END
$$;
