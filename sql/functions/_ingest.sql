CREATE FUNCTION @extschema@._ingest(
    p_session_id uuid, p_engine text DEFAULT NULL, p_strict boolean DEFAULT false)
RETURNS TABLE (session_id uuid, records bigint, variants bigint, calls bigint,
               samples integer, state text)
LANGUAGE plpgsql VOLATILE
-- The block statements are planned on small unanalysed temp tables, whose
-- row estimates make JIT compile every block for nothing.
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_session      @extschema@.sessions%ROWTYPE;
    v_staging_key  bytea;
    v_phi_key_id   uuid;
    v_phi_key      bytea;
    v_block        record;
    v_missing      integer;
    v_plain        bytea;
    v_text         text;
    v_cut          integer;
    v_header       text := '';
    v_header_done  boolean := false;
    v_hdr          record;
    v_part         record;
    v_records      bigint := 0;
    v_lines_done   bigint := 0;
    v_variants     bigint := 0;
    v_calls        bigint := 0;
    v_engine       regproc;
    v_warning      text;
    v_warnings     jsonb;
    v_winner       uuid;
    v_progress     boolean := lower(coalesce(current_setting('vcf_pg_loader.ingest_progress', true), ''))
                              IN ('on', 'true', 'yes', '1');
BEGIN
    -- Ingests one staged session in the caller's transaction: verifies the
    -- manifest and every block's tag before using it, decrypts and parses
    -- block by block, encrypts PHI under the PHI key, then deletes the
    -- staged blocks and destroys the staging key. Both keys must have been
    -- unlocked in this transaction (vcf.unlock). Called by vcf.vcf_ingest,
    -- which runs it as the extension owner. Any error aborts the whole
    -- ingest; nothing of the session is written. p_engine picks the block
    -- parser: 'plpython' (vcf._ingest_block_py, from the companion
    -- extension), 'plpgsql' (vcf._ingest_block), or NULL for the first when
    -- it is installed. p_strict turns every warning into a reject (VP041).
    -- Only the login that staged the session (sessions.created_by) may
    -- ingest it (42501). Content that another session already holds as
    -- 'ingested' is refused (VP050, DETAIL: that session), early when it is
    -- visible at the start, and otherwise by the unique index
    -- sessions_one_ingested_per_content when two ingests of the same content
    -- overlap: the second waits for the first to commit, then gets VP050.
    -- With the setting vcf_pg_loader.ingest_progress on, each block parsed
    -- raises a NOTICE with SQLSTATE VP090 and, as DETAIL, the JSON object
    -- {"blocks_done", "blocks", "records"}: counts only, never file content.
    -- With vcf._ingest_concurrent, variants and samples are committed apart
    -- (vcf._share_variants, vcf._share_samples). Raises VP001-VP053, 42501.
    v_engine := @extschema@._ingest_engine(p_engine);
    IF @extschema@._ingest_concurrent() AND current_setting('transaction_isolation') <> 'read committed' THEN
        -- rows committed apart are invisible to a transaction snapshot
        RAISE EXCEPTION 'a concurrent ingest needs isolation level READ COMMITTED, not %',
            upper(current_setting('transaction_isolation'))
            USING ERRCODE = 'VP052',
                  HINT = 'Ingest in a READ COMMITTED transaction, or without vcf_pg_loader.ingest_concurrent.';
    END IF;
    SELECT * INTO v_session FROM @extschema@.sessions s
     WHERE s.session_id = p_session_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % does not exist', p_session_id
            USING ERRCODE = 'VP001', HINT = 'List sessions with "vcfctl sessions list".';
    END IF;
    IF v_session.created_by IS DISTINCT FROM session_user THEN
        RAISE EXCEPTION 'permission denied to ingest session %: it was staged by another login', p_session_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the login that staged a session may ingest it; stage the file again as yourself.';
    END IF;
    IF v_session.state <> 'staged' THEN
        RAISE EXCEPTION 'session % is %, not staged', p_session_id, v_session.state
            USING ERRCODE = 'VP010',
                  HINT = CASE v_session.state
                      WHEN 'ingested' THEN 'It has been loaded already.'
                      WHEN 'staging' THEN 'Its staging did not finish: purge it and stage the file again.'
                      ELSE 'Stage the file again.' END;
    END IF;
    -- Cheap early refusal when another session already holds this content;
    -- the unique index sessions_one_ingested_per_content decides the race.
    SELECT s.session_id INTO v_winner FROM @extschema@.sessions s
     WHERE s.content_sha256 = v_session.content_sha256 AND s.state = 'ingested'
       AND s.session_id IS DISTINCT FROM v_session.replaces;
    IF FOUND THEN
        RAISE EXCEPTION 'this content is already loaded as session %', v_winner
            USING ERRCODE = 'VP050', DETAIL = v_winner::text,
                  HINT = 'Nothing was written; load it with --reload to replace that session''s records and calls.';
    END IF;

    v_staging_key := @extschema@._unlocked_key(v_session.staging_key_id);
    -- FOR SHARE until commit: a rotation cannot begin (retire this key)
    -- while this ingest writes values under it.
    SELECT k.key_id INTO v_phi_key_id FROM @extschema@.data_keys k
     WHERE k.purpose = 'phi' AND k.state = 'active' FOR SHARE;
    IF v_phi_key_id IS NULL THEN
        RAISE EXCEPTION 'there is no active PHI key'
            USING ERRCODE = 'VP006', HINT = 'Create one with "vcfctl keys init".';
    END IF;
    v_phi_key := @extschema@._unlocked_key(v_phi_key_id);

    IF @extschema@._open(v_staging_key, v_session.manifest,
            format('vcf.sessions.manifest:%s:%s:%s:%s', p_session_id, v_session.block_count,
                   v_session.line_count, encode(v_session.content_sha256, 'hex'))) IS NULL THEN
        RAISE EXCEPTION 'session %: the manifest does not verify', p_session_id
            USING ERRCODE = 'VP020', HINT = 'The session row was modified; purge it and stage the file again.';
    END IF;
    SELECT g INTO v_missing
      FROM generate_series(0, v_session.block_count - 1) AS g
     WHERE NOT EXISTS (SELECT 1 FROM @extschema@.staged_blocks b
                        WHERE b.session_id = p_session_id AND b.block_no = g)
     ORDER BY g LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session %: block % is missing', p_session_id, v_missing
            USING ERRCODE = 'VP021', HINT = 'Staged data was removed; purge the session and stage the file again.';
    END IF;
    SELECT b.block_no INTO v_missing FROM @extschema@.staged_blocks b
     WHERE b.session_id = p_session_id AND b.block_no >= v_session.block_count
     ORDER BY b.block_no LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session %: block % was not part of the staged file', p_session_id, v_missing
            USING ERRCODE = 'VP022', HINT = 'Staged data was tampered with; purge the session and stage the file again.';
    END IF;

    IF p_strict AND jsonb_array_length(v_session.warnings) > 0 THEN
        RAISE EXCEPTION 'session %: %', p_session_id,
            v_session.warnings->0->'examples'->>0
            USING ERRCODE = 'VP041', HINT = 'Loaded without strict, this would be a warning.';
    END IF;
    PERFORM @extschema@._ingest_scratch();

    FOR v_block IN
        SELECT b.block_no, b.line_count, b.ciphertext FROM @extschema@.staged_blocks b
         WHERE b.session_id = p_session_id ORDER BY b.block_no
    LOOP
        v_plain := @extschema@._open(v_staging_key, v_block.ciphertext,
            format('vcf.staged_blocks:%s:%s:%s', p_session_id, v_block.block_no, v_block.line_count));
        IF v_plain IS NULL THEN
            RAISE EXCEPTION 'session %: block % failed authentication', p_session_id, v_block.block_no
                USING ERRCODE = 'VP023',
                      DETAIL = 'The block was modified, moved, cut short or copied from another session.',
                      HINT = 'Nothing of the session was written; purge it and stage the file again.';
        END IF;
        v_text := convert_from(v_plain, 'UTF8');
        v_plain := NULL;  -- a block can be a whole long line: hold it once, not twice
        IF NOT v_header_done THEN
            v_cut := regexp_instr(v_text, '^[^#]', 1, 1, 0, 'n');
            IF v_cut = 0 THEN
                v_header := v_header || v_text;
                v_text := '';
                CONTINUE WHEN v_block.block_no < v_session.block_count - 1;
            ELSE
                v_header := v_header || substr(v_text, 1, v_cut - 1);
                v_text := substr(v_text, v_cut);
            END IF;
            SELECT * INTO v_hdr
              FROM @extschema@._ingest_header(p_session_id, v_header, v_phi_key_id, v_phi_key);
            v_header_done := true;
            v_lines_done := v_hdr.o_header_lines;
        END IF;
        IF v_text <> '' THEN
            EXECUTE format('SELECT * FROM %s($1, $2, $3, $4, $5, $6, $7)', v_engine)
               INTO v_part
              USING p_session_id, v_text, v_lines_done, v_records,
                    v_hdr.o_columns, v_hdr.o_sample_ids, v_hdr.o_fields;
            IF p_strict THEN
                SELECT w.message INTO v_warning FROM pg_temp.vcf_ingest_warnings w
                 ORDER BY w.line_no LIMIT 1;
                IF FOUND THEN
                    RAISE EXCEPTION 'session %: %', p_session_id, v_warning
                        USING ERRCODE = 'VP041',
                              HINT = 'Loaded without strict, this would be a warning.';
                END IF;
            END IF;
            v_lines_done := v_lines_done + regexp_count(v_text, E'\n');
            v_records := v_records + v_part.o_records;
            v_variants := v_variants + v_part.o_variants;
            v_calls := v_calls + v_part.o_calls;
        END IF;
        IF v_progress THEN
            RAISE NOTICE 'vcf_ingest: % of % blocks, % records', v_block.block_no + 1,
                v_session.block_count, v_records
                USING ERRCODE = 'VP090',
                      DETAIL = json_build_object('blocks_done', v_block.block_no + 1,
                                                 'blocks', v_session.block_count,
                                                 'records', v_records)::text;
        END IF;
    END LOOP;
    v_warnings := v_session.warnings || @extschema@._ingest_warnings();
    DROP TABLE pg_temp.vcf_ingest_lines, pg_temp.vcf_ingest_items, pg_temp.vcf_ingest_values,
               pg_temp.vcf_ingest_warnings;

    IF NOT v_header_done OR v_lines_done <> v_session.line_count THEN
        RAISE EXCEPTION 'session %: % lines decrypted, % staged', p_session_id,
            v_lines_done, v_session.line_count
            USING ERRCODE = 'VP024', HINT = 'Purge the session and stage the file again.';
    END IF;

    v_plain := @extschema@._open(v_staging_key, v_session.source_enc,
                                 format('vcf.sessions.source:%s', p_session_id));
    IF v_plain IS NULL THEN
        RAISE EXCEPTION 'session %: the source path does not decrypt', p_session_id
            USING ERRCODE = 'VP025', HINT = 'The session row was modified; purge it and stage the file again.';
    END IF;
    IF v_session.replaces IS NOT NULL THEN
        PERFORM @extschema@._replace_session(v_session.replaces, p_session_id);
    END IF;
    DELETE FROM @extschema@.staged_blocks b WHERE b.session_id = p_session_id;
    PERFORM @extschema@._destroy_key(v_session.staging_key_id);
    BEGIN
        UPDATE @extschema@.sessions s
           SET state = 'ingested',
               source_enc = @extschema@._seal(v_phi_key, v_phi_key_id, v_plain,
                                              format('vcf.sessions.source:%s', p_session_id)),
               records = v_records, variants = v_variants, calls = v_calls,
               samples = cardinality(v_hdr.o_sample_ids), warnings = v_warnings,
               finished_at = clock_timestamp()
         WHERE s.session_id = p_session_id;
    EXCEPTION WHEN unique_violation THEN
        -- A concurrent ingest of the same content committed first: this
        -- UPDATE waited for it, then hit sessions_one_ingested_per_content.
        SELECT s.session_id INTO v_winner FROM @extschema@.sessions s
         WHERE s.content_sha256 = v_session.content_sha256 AND s.state = 'ingested'
           AND s.session_id <> p_session_id;
        RAISE EXCEPTION 'this content is already loaded as session %',
            coalesce(v_winner::text, '(a concurrent ingest)')
            USING ERRCODE = 'VP050', DETAIL = coalesce(v_winner::text, ''),
                  HINT = 'Nothing was written; load it with --reload to replace that session''s records and calls.';
    END;
    PERFORM @extschema@._audit('ingest', p_session_id::text, true,
        jsonb_build_object('records', v_records, 'variants', v_variants, 'calls', v_calls,
                           'samples', cardinality(v_hdr.o_sample_ids),
                           'engine', v_engine::text, 'strict', p_strict,
                           'warnings', jsonb_array_length(v_warnings)));
    RETURN QUERY SELECT p_session_id, v_records, v_variants, v_calls,
                        cardinality(v_hdr.o_sample_ids), 'ingested'::text;
END
$$;

