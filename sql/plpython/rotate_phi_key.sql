CREATE PROCEDURE @extschema@.rotate_phi_key(p_batch_size integer DEFAULT 500)
LANGUAGE plpgsql
AS $$
DECLARE
    v_status record;
    v_batch  record;
    v_done   bigint := 0;
BEGIN
    -- Rotates the PHI key from SQL, with in-database unwrapping: begins a
    -- rotation (or resumes the one in progress), then re-encrypts the PHI
    -- values in batches of p_batch_size, committing after each, with a NOTICE
    -- of progress (ids and counts only). Interrupted, it resumes when called
    -- again. CALL it outside a transaction block: CALL vcf.rotate_phi_key();
    -- Not SECURITY DEFINER (a procedure that commits cannot be): it calls
    -- vcf.rotate_begin_in_server and vcf.rotate_batch, which are.
    SELECT * INTO STRICT v_status FROM @extschema@.rotate_status();
    IF v_status.retiring_key IS NULL THEN
        PERFORM @extschema@.rotate_begin_in_server();
        COMMIT;
        SELECT * INTO STRICT v_status FROM @extschema@.rotate_status();
        RAISE NOTICE 'rotation started: % -> % (% values)',
            v_status.retiring_key, v_status.active_key, v_status.remaining;
    ELSE
        RAISE NOTICE 'rotation resumed: % -> % (% values left)',
            v_status.retiring_key, v_status.active_key, v_status.remaining;
    END IF;
    LOOP
        SELECT * INTO STRICT v_batch FROM @extschema@.rotate_batch(p_batch_size);
        COMMIT;
        v_done := v_done + v_batch.rotated;
        EXIT WHEN v_batch.finished;
        RAISE NOTICE 'rotated % of % values', v_done, v_done + v_batch.remaining;
    END LOOP;
    RAISE NOTICE 'rotation finished: % values re-encrypted; key % is retired',
        v_done, v_status.retiring_key;
END
$$;
