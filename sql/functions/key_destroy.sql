CREATE FUNCTION @extschema@.key_destroy(p_key_id uuid)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row   @extschema@.data_keys%ROWTYPE;
    v_using bigint;
    v_why   text;
BEGIN
    -- Crypto-shredding of a retired PHI key: erases its wrapped form, so
    -- nothing it ever encrypted (backups included) can be read again.
    -- Refused while any stored value still uses it, and for active or
    -- retiring keys; staging keys are destroyed by ingest and purge.
    -- Returns true, or false when it was destroyed already. Refusals are
    -- audited in an autonomous transaction. Raises VP002 (no such key),
    -- VP083 (not a retired PHI key), VP084 (values still use it).
    SELECT * INTO v_row FROM @extschema@.data_keys WHERE key_id = p_key_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM @extschema@._audit_autonomous_try('destroy', p_key_id::text, false,
                                                  '{"sqlstate": "VP002"}');
        RAISE EXCEPTION 'data key % does not exist', p_key_id
            USING ERRCODE = 'VP002', HINT = 'List keys with "vcfctl keys list".';
    END IF;
    IF v_row.state = 'destroyed' THEN
        RETURN false;
    END IF;
    IF v_row.purpose <> 'phi' OR v_row.state <> 'retired' THEN
        v_why := CASE
            WHEN v_row.purpose = 'staging' THEN 'staging keys are destroyed when their session is ingested or purged'
            WHEN v_row.state = 'active' THEN 'it is the active PHI key: rotate first'
            ELSE 'a rotation is moving its values: finish it first' END;
        PERFORM @extschema@._audit_autonomous_try('destroy', p_key_id::text, false,
            jsonb_build_object('sqlstate', 'VP083', 'purpose', v_row.purpose, 'state', v_row.state));
        RAISE EXCEPTION 'data key % cannot be destroyed: %', p_key_id, v_why
            USING ERRCODE = 'VP083',
                  HINT = 'Only retired PHI keys are destroyed by hand (vcfctl keys destroy).';
    END IF;
    -- Retired means nothing used it at the time; a value restored since would be lost.
    v_using := @extschema@._phi_values_using(p_key_id);
    IF v_using > 0 THEN
        PERFORM @extschema@._audit_autonomous_try('destroy', p_key_id::text, false,
            jsonb_build_object('sqlstate', 'VP084', 'values', v_using));
        RAISE EXCEPTION 'data key % is still used by % stored value(s)', p_key_id, v_using
            USING ERRCODE = 'VP084',
                  HINT = 'Keep the key: the values (restored from a backup?) would become unreadable.';
    END IF;
    PERFORM @extschema@._destroy_key(p_key_id);
    RETURN true;
END
$$;
