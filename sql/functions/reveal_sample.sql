CREATE FUNCTION @extschema@.reveal_sample(p_sample_id bigint, p_reason text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tls    record;
    v_actor  name := @extschema@._audit_actor();
    v_reason text := @extschema@._reason(p_reason);
    v_target text := p_sample_id::text;
    v_enc    bytea;
    v_key_id uuid;
    v_key    bytea;
    v_name   bytea;
BEGIN
    -- Returns a sample's plaintext name, to members of vcf_phi_reader only,
    -- for a stated reason. Every attempt, granted or refused, is audited
    -- ('reveal', target = sample id, details: the reason or the refusal) in
    -- an autonomous transaction that is committed before the name is
    -- returned, so a rollback cannot hide it; if that row cannot be written
    -- the name is not returned (VP070); a refusal is raised all the same,
    -- with a WARNING. The name's PHI key must be unlocked
    -- in this transaction (vcf.unlock). SECURITY DEFINER: the caller reads
    -- neither vcf.samples.name_enc nor any key. Raises 42501 (not a member of
    -- vcf_phi_reader), VP073 (no reason), VP071 (no such sample), VP004 (key
    -- not unlocked), VP072 (the name does not decrypt), VP070, VP009 (the
    -- connection is TCP without TLS: the name would cross it in the clear).
    SELECT * INTO v_tls FROM @extschema@._transport_refusal();
    IF v_tls.refused IS NOT NULL THEN
        PERFORM @extschema@._audit_autonomous_try('reveal', v_target, false,
            jsonb_strip_nulls(jsonb_build_object('sqlstate', 'VP009', 'refused', v_tls.refused,
                                                 'reason', v_reason)));
        RAISE EXCEPTION 'refusing to reveal sample % %', p_sample_id, v_tls.why
            USING ERRCODE = 'VP009', HINT = v_tls.hint;
    END IF;
    IF NOT pg_has_role(v_actor, 'vcf_phi_reader', 'USAGE') THEN
        PERFORM @extschema@._audit_autonomous_try('reveal', v_target, false,
            jsonb_strip_nulls(jsonb_build_object('refused', 'not a member of vcf_phi_reader',
                                                 'reason', v_reason)));
        RAISE EXCEPTION 'permission denied to reveal sample %: % is not a member of vcf_phi_reader',
            p_sample_id, v_actor
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Analysts work with sample ids; a DBA can grant vcf_phi_reader (vcfctl roles grant).';
    END IF;
    IF v_reason IS NULL THEN
        PERFORM @extschema@._audit_autonomous_try('reveal', v_target, false,
            jsonb_build_object('refused', 'no reason given'));
        RAISE EXCEPTION 'a reason is required to reveal sample %', p_sample_id
            USING ERRCODE = 'VP073', HINT = 'Say why, e.g. vcfctl samples reveal ID --reason "ticket 1234".';
    END IF;
    SELECT s.name_enc INTO v_enc FROM @extschema@.samples s WHERE s.sample_id = p_sample_id;
    IF NOT FOUND THEN
        PERFORM @extschema@._audit_autonomous_try('reveal', v_target, false,
            jsonb_build_object('refused', 'no such sample', 'reason', v_reason));
        RAISE EXCEPTION 'sample % does not exist', p_sample_id
            USING ERRCODE = 'VP071', HINT = 'Sample ids are in vcf.samples and vcf.session_samples.';
    END IF;
    v_key_id := @extschema@._blob_key_id(v_enc);
    v_key := @extschema@._try_unlocked_key(v_key_id);
    IF v_key IS NULL THEN
        PERFORM @extschema@._audit_autonomous_try('reveal', v_target, false,
            jsonb_build_object('refused', 'key not unlocked', 'key_id', v_key_id, 'reason', v_reason));
        RAISE EXCEPTION 'data key % is not unlocked in this transaction', v_key_id
            USING ERRCODE = 'VP004',
                  HINT = 'Call vcf.unlock(key_id, key) in the same transaction first (vcfctl samples reveal does this).';
    END IF;
    v_name := @extschema@._open(v_key, v_enc, format('vcf.samples.name:%s', p_sample_id));
    IF v_name IS NULL THEN
        PERFORM @extschema@._audit_autonomous_try('reveal', v_target, false,
            jsonb_build_object('refused', 'name does not decrypt', 'key_id', v_key_id, 'reason', v_reason));
        RAISE EXCEPTION 'the name of sample % does not decrypt', p_sample_id
            USING ERRCODE = 'VP072', HINT = 'The stored value was modified or moved; restore it from a backup.';
    END IF;
    PERFORM @extschema@._audit_autonomous('reveal', v_target, true,
        jsonb_build_object('reason', v_reason, 'key_id', v_key_id));
    RETURN convert_from(v_name, 'UTF8');
END
$$;
