CREATE FUNCTION @extschema@.rewrap_key(
    p_key_id uuid, p_old_wrapped_sha256 bytea, p_kek_id text, p_provider text,
    p_wrapped_key bytea, p_unwrapped_key bytea DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row    @extschema@.data_keys%ROWTYPE;
    v_server record;
    v_proof  text;
    v_why    text;
BEGIN
    -- Replaces a data key's wrapped form by the same key wrapped under
    -- another KEK (vcfctl keys rewrap), only once the new form is proven to
    -- unwrap to this key, so that a rewrap can never destroy a key:
    -- (a) with the plpython companion configured for p_provider, the server
    -- unwraps p_wrapped_key itself (new KEK id, stored encryption context;
    -- vcf._server_verify_wrapping) and compares the key check value; else
    -- (b) p_unwrapped_key, the key the caller got by unwrapping the new form
    -- (a bind parameter, as vcf.unlock takes keys), must have the stored key
    -- check value. If both are there, both must hold. With neither proof, or
    -- a failed one, nothing changes (VP063). Compare-and-swap: only if the
    -- stored wrapped key still has sha256 p_old_wrapped_sha256, so a
    -- concurrent rewrap or destroy is never overwritten. The key check value
    -- and encryption context stay; no data is touched. A form proven by the
    -- client only can still be garbage (a key admin calling this with the
    -- real key): the form it replaced is kept in previous_* until the server
    -- unwraps the new one (vcf.rewrap_undo puts it back). Audited ('rewrap',
    -- with the proof used and the KEK id kept for undo); refusals in an
    -- autonomous transaction. No key material in any error or audit row.
    -- SECURITY DEFINER: key admins read vcf.data_keys but may not write it.
    -- Raises VP002 (no such key), VP060 (destroyed), VP061 (changed since it
    -- was read; refusal audited), VP062 (invalid provider, KEK id or key),
    -- VP063 (the new wrapped form is not proven to be this key; audited).
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

    -- (a) the server unwraps the new form itself, when it can
    IF to_regprocedure('@extschema@._server_verify_wrapping(uuid, text, text, bytea)') IS NOT NULL THEN
        EXECUTE 'SELECT * FROM @extschema@._server_verify_wrapping($1, $2, $3, $4)'
           INTO v_server USING p_key_id, p_provider, p_kek_id, p_wrapped_key;
        IF v_server.o_verified THEN
            v_proof := 'server';
        ELSIF NOT v_server.o_verified THEN
            v_why := format('the server cannot unwrap it to this key: %s', v_server.o_message);
        END IF;
    END IF;
    -- (b) the key the caller unwrapped from the new form
    IF v_why IS NULL AND p_unwrapped_key IS NOT NULL THEN
        IF length(p_unwrapped_key) <> 64
           OR @extschema@._key_check(p_unwrapped_key) <> v_row.key_check THEN
            v_why := 'the key given as proof is not this data key (check value differs)';
        ELSE
            v_proof := CASE WHEN v_proof IS NULL THEN 'client' ELSE 'server+client' END;
        END IF;
    END IF;
    IF v_why IS NULL AND v_proof IS NULL THEN
        v_why := format('cannot prove the new wrapping: the server does not unwrap %s keys '
                        'and no unwrapped key was given', p_provider);
    END IF;
    IF v_why IS NOT NULL THEN
        PERFORM @extschema@._audit_autonomous_try('rewrap', p_key_id::text, false,
            jsonb_build_object('sqlstate', 'VP063', 'purpose', v_row.purpose,
                               'from_provider', v_row.provider, 'from_kek_id', v_row.kek_id,
                               'to_provider', p_provider, 'to_kek_id', p_kek_id,
                               'refused', v_why));
        RAISE EXCEPTION 'new wrapped form of data key % refused: %', p_key_id, v_why
            USING ERRCODE = 'VP063',
                  HINT = 'The stored wrapped key is unchanged. Use "vcfctl keys rewrap", which '
                         'unwraps the new form and checks it before it is swapped in.';
    END IF;

    -- Proven by the server: nothing to keep. Proven by the client only: keep
    -- the form it replaces, unless one is kept already (the current form was
    -- not proven by the server either: the kept one is the last that was).
    IF v_proof LIKE 'server%' THEN
        v_row.previous_provider := NULL;
        v_row.previous_kek_id := NULL;
        v_row.previous_wrapped_key := NULL;
        v_row.previous_replaced_at := NULL;
    ELSIF v_row.previous_wrapped_key IS NULL THEN
        v_row.previous_provider := v_row.provider;
        v_row.previous_kek_id := v_row.kek_id;
        v_row.previous_wrapped_key := v_row.wrapped_key;
        v_row.previous_replaced_at := clock_timestamp();
    END IF;
    UPDATE @extschema@.data_keys
       SET provider = p_provider, kek_id = p_kek_id, wrapped_key = p_wrapped_key,
           previous_provider = v_row.previous_provider, previous_kek_id = v_row.previous_kek_id,
           previous_wrapped_key = v_row.previous_wrapped_key,
           previous_replaced_at = v_row.previous_replaced_at
     WHERE key_id = p_key_id;
    PERFORM @extschema@._audit('rewrap', p_key_id::text, true,
        jsonb_build_object('purpose', v_row.purpose,
                           'from_provider', v_row.provider, 'from_kek_id', v_row.kek_id,
                           'to_provider', p_provider, 'to_kek_id', p_kek_id,
                           'proof', v_proof,
                           'kept_for_undo', v_row.previous_kek_id));
END
$$;
