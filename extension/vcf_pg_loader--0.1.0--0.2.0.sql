-- vcf_pg_loader 0.1.0 -> 0.2.0. Written by hand (extension/released/README.md
-- says how): ALTER EXTENSION vcf_pg_loader UPDATE TO '0.2.0' runs it in one
-- transaction, as the extension owner; tests/python/integration/
-- test_upgrade.py checks that it leaves the objects a fresh 0.2.0 install has.
\echo Use "ALTER EXTENSION vcf_pg_loader UPDATE TO '0.2.0'" to load this file. \quit

-- VP009 says why: vcf._cleartext_tcp() (a boolean) becomes
-- vcf._transport_refusal() (what is refused, why, and the hint), which also
-- refuses, saying so, when the owner cannot see the caller's TLS status.
CREATE FUNCTION @extschema@._transport_refusal(OUT refused text, OUT why text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ssl   boolean;
    v_owner name;
BEGIN
    -- Why vcf.unlock(key_id, key), vcf.reveal_sample and vcf.find_sample
    -- must refuse this backend's connection (VP009), or all NULL when they
    -- need not: a Unix socket (no client address) or TLS. A key or a sample
    -- name would cross TCP without TLS in the clear (GSSAPI encryption counts
    -- as clear here: the project requires TLS). The TLS status comes from
    -- pg_stat_ssl, which shows another login's backend only to a role with
    -- pg_read_all_stats (these functions run as the extension owner): when
    -- the owner cannot see it, the connection is refused too (fail closed),
    -- saying so. Granted to no one.
    IF inet_client_addr() IS NULL THEN
        RETURN;
    END IF;
    SELECT s.ssl INTO v_ssl FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid();
    IF v_ssl THEN
        RETURN;
    END IF;
    IF v_ssl IS NOT NULL THEN
        refused := 'TCP without TLS';
        why := 'over TCP without TLS';
        hint := 'Connect through the Unix socket or with TLS (sslmode=verify-full; on RDS set '
                'rds.force_ssl = 1); a key sent in the clear should be treated as exposed: '
                'rotate it (vcfctl keys rotate).';
        RETURN;
    END IF;
    SELECT r.rolname INTO v_owner
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_roles r ON r.oid = e.extowner
     WHERE e.extname = 'vcf_pg_loader';
    refused := 'TLS status not visible';
    why := format('on a connection whose TLS status the extension owner %s cannot see', v_owner);
    hint := format('GRANT pg_read_all_stats TO %s (as a superuser; on AWS RDS the master user, '
                   'a member of rds_superuser, can already see it).', quote_ident(v_owner));
END
$$;
REVOKE ALL ON FUNCTION @extschema@._transport_refusal() FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.unlock(p_key_id uuid, p_key bytea)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tls    record;
    v_row @extschema@.data_keys%ROWTYPE;
BEGIN
    -- Makes a plaintext data key usable by this extension until the current
    -- transaction ends. The key must arrive as a bind parameter; it is
    -- checked against the stored key check value before it is kept, and it
    -- is kept only in a transaction-local setting (never a table, never a
    -- session-wide setting). SECURITY DEFINER: callers need no privilege on
    -- vcf.data_keys. Raises VP009 (the connection is TCP without TLS: the
    -- key crossed the network in the clear; it is not used, not even
    -- checked), VP002 (unknown or destroyed key), VP003 (wrong key); every
    -- refusal is audited in an autonomous transaction first, so its row
    -- survives the caller's rollback.
    SELECT * INTO v_tls FROM @extschema@._transport_refusal();
    IF v_tls.refused IS NOT NULL THEN
        PERFORM @extschema@._audit_autonomous_try('unlock', p_key_id::text, false,
            jsonb_build_object('sqlstate', 'VP009', 'refused', v_tls.refused));
        RAISE EXCEPTION 'refusing to unlock data key % %', p_key_id, v_tls.why
            USING ERRCODE = 'VP009', HINT = v_tls.hint;
    END IF;
    SELECT * INTO v_row FROM @extschema@.data_keys WHERE key_id = p_key_id;
    IF NOT FOUND OR v_row.state = 'destroyed' THEN
        PERFORM @extschema@._audit_autonomous_try('unlock', p_key_id::text, false,
                                                  '{"sqlstate": "VP002"}');
        RAISE EXCEPTION 'data key % does not exist or has been destroyed', p_key_id
            USING ERRCODE = 'VP002',
                  HINT = 'List keys with "vcfctl keys list"; a destroyed key cannot be used again.';
    END IF;
    IF p_key IS NULL OR length(p_key) <> 64
       OR @extschema@._key_check(p_key) <> v_row.key_check THEN
        PERFORM @extschema@._audit_autonomous_try('unlock', p_key_id::text, false,
            jsonb_build_object('sqlstate', 'VP003', 'purpose', v_row.purpose));
        RAISE EXCEPTION 'wrong key material for data key %', p_key_id
            USING ERRCODE = 'VP003',
                  HINT = 'Unwrap the key with the provider that wrapped it (see vcf.data_keys.provider).';
    END IF;
    PERFORM set_config(@extschema@._key_setting(p_key_id), encode(p_key, 'hex'), true);
    PERFORM @extschema@._audit('unlock', p_key_id::text, true,
                               jsonb_build_object('purpose', v_row.purpose));
END
$$;


CREATE OR REPLACE FUNCTION @extschema@.reveal_sample(p_sample_id bigint, p_reason text)
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

CREATE OR REPLACE FUNCTION @extschema@.find_sample(p_name text, p_reason text DEFAULT NULL)
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

DROP FUNCTION @extschema@._cleartext_tcp();

-- CREATE OR REPLACE reset the settings vcf._pin_settings had fixed on the
-- replaced functions: pin them again, as every install script ends.
SELECT @extschema@._pin_settings('vcf_pg_loader');

SELECT @extschema@._audit('extension_update', 'vcf_pg_loader', true,
                          '{"from": "0.1.0", "to": "0.2.0"}');
