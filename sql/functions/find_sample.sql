CREATE FUNCTION @extschema@.find_sample(p_name text, p_reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tls    record;
    v_actor  name := @extschema@._audit_actor();
    v_reason text := @extschema@._reason(p_reason);
    v_key_id uuid;
    v_key    bytea;
    v_id     bigint;
    v_retiring uuid;
BEGIN
    -- The sample id of a name, through the blind index under the active PHI
    -- key (and the retiring one during a rotation; no decryption), for members of vcf_phi_reader only. Every lookup,
    -- found, not found or refused, is audited ('find') in an autonomous
    -- transaction before the result is returned; the audit row holds the
    -- result (target = sample id, details.result), never the name.
    -- SECURITY DEFINER: the caller reads neither the blind index nor a key.
    -- Raises 42501, VP006 (no active PHI key), VP004 (key not unlocked), VP070,
    -- VP009 (the connection is TCP without TLS: the name crossed it in the
    -- clear; it is not looked up).
    SELECT * INTO v_tls FROM @extschema@._transport_refusal();
    IF v_tls.refused IS NOT NULL THEN
        PERFORM @extschema@._audit_autonomous_try('find', NULL, false,
            jsonb_strip_nulls(jsonb_build_object('sqlstate', 'VP009', 'refused', v_tls.refused,
                                                 'reason', v_reason)));
        RAISE EXCEPTION 'refusing to look up a sample name %', v_tls.why
            USING ERRCODE = 'VP009', HINT = v_tls.hint;
    END IF;
    IF NOT pg_has_role(v_actor, 'vcf_phi_reader', 'USAGE') THEN
        PERFORM @extschema@._audit_autonomous_try('find', NULL, false,
            jsonb_strip_nulls(jsonb_build_object('refused', 'not a member of vcf_phi_reader',
                                                 'reason', v_reason)));
        RAISE EXCEPTION 'permission denied to look up samples by name: % is not a member of vcf_phi_reader', v_actor
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A DBA can grant vcf_phi_reader (vcfctl roles grant).';
    END IF;
    v_key_id := @extschema@.active_phi_key_id();
    IF v_key_id IS NULL THEN
        PERFORM @extschema@._audit_autonomous_try('find', NULL, false,
            jsonb_strip_nulls(jsonb_build_object('refused', 'no active PHI key', 'reason', v_reason)));
        RAISE EXCEPTION 'there is no active PHI key'
            USING ERRCODE = 'VP006', HINT = 'Create one with "vcfctl keys init".';
    END IF;
    -- During a rotation a name not yet moved is indexed under the retiring key.
    SELECT k.key_id INTO v_retiring FROM @extschema@.data_keys k
     WHERE k.purpose = 'phi' AND k.state = 'retiring';
    FOREACH v_key_id IN ARRAY array_remove(ARRAY[v_key_id, v_retiring], NULL) LOOP
        v_key := @extschema@._try_unlocked_key(v_key_id);
        IF v_key IS NULL THEN
            PERFORM @extschema@._audit_autonomous_try('find', NULL, false,
                jsonb_strip_nulls(jsonb_build_object('refused', 'key not unlocked', 'key_id', v_key_id,
                                                     'reason', v_reason)));
            RAISE EXCEPTION 'data key % is not unlocked in this transaction', v_key_id
                USING ERRCODE = 'VP004',
                      HINT = 'Call vcf.unlock(key_id, key) in the same transaction first (vcfctl samples find does this).';
        END IF;
        SELECT s.sample_id INTO v_id FROM @extschema@.samples s
         WHERE s.blind_index = @extschema@._blind_index(v_key, p_name);
        EXIT WHEN v_id IS NOT NULL;
    END LOOP;
    v_key_id := @extschema@.active_phi_key_id();
    PERFORM @extschema@._audit_autonomous('find', v_id::text, true,
        jsonb_strip_nulls(jsonb_build_object(
            'result', CASE WHEN v_id IS NULL THEN 'not found' ELSE 'found' END,
            'key_id', v_key_id, 'reason', v_reason)));
    RETURN v_id;
END
$$;
