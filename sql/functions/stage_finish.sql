CREATE FUNCTION @extschema@.stage_finish(
    p_session_id uuid, p_block_count integer, p_line_count bigint,
    p_content_sha256 bytea, p_manifest bytea,
    p_warnings jsonb DEFAULT '[]', p_reload boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_state  text;
    v_blocks integer;
    v_lines  bigint;
    v_loaded uuid;
BEGIN
    -- Marks a session staged once all its blocks are in. The manifest is a
    -- ciphertext under the staging key binding block count, line count and
    -- content hash; vcf_ingest verifies it, so a dropped trailing block is
    -- detected. Warnings (counts, never values) are kept on the session.
    -- Content already ingested is refused (VP050, naming the session that
    -- holds it) unless p_reload, which makes this session replace that one
    -- when it is ingested.
    -- Raises VP010 for a session not in state 'staging', VP011
    -- when the stored blocks disagree with the counts given.
    IF p_block_count IS NULL OR p_line_count IS NULL OR p_content_sha256 IS NULL
       OR p_manifest IS NULL THEN
        RAISE EXCEPTION 'stage_finish needs block count, line count, content hash and manifest'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass all of them.';
    END IF;
    SELECT state INTO v_state FROM @extschema@.sessions
     WHERE session_id = p_session_id FOR UPDATE;
    IF v_state IS DISTINCT FROM 'staging' THEN
        RAISE EXCEPTION 'session % is not being staged (state %)', p_session_id, coalesce(v_state, 'unknown')
            USING ERRCODE = 'VP010', HINT = 'Stage the file again with "vcfctl stage".';
    END IF;
    SELECT count(*), coalesce(sum(line_count), 0) INTO v_blocks, v_lines
      FROM @extschema@.staged_blocks WHERE session_id = p_session_id;
    IF v_blocks <> p_block_count OR v_lines <> p_line_count THEN
        RAISE EXCEPTION 'session % has % blocks and % lines staged, expected % and %',
            p_session_id, v_blocks, v_lines, p_block_count, p_line_count
            USING ERRCODE = 'VP011', HINT = 'Purge the session and stage the file again.';
    END IF;
    SELECT s.session_id INTO v_loaded FROM @extschema@.sessions s
     WHERE s.content_sha256 = p_content_sha256 AND s.state = 'ingested'
     ORDER BY s.finished_at DESC LIMIT 1;
    IF FOUND AND NOT coalesce(p_reload, false) THEN
        RAISE EXCEPTION 'this content is already loaded as session %', v_loaded
            USING ERRCODE = 'VP050', DETAIL = v_loaded::text,
                  HINT = 'Load it with --reload to replace that session''s records and calls.';
    END IF;
    UPDATE @extschema@.sessions
       SET state = 'staged', replaces = v_loaded, block_count = p_block_count, line_count = p_line_count,
           content_sha256 = p_content_sha256, manifest = p_manifest,
           warnings = coalesce(p_warnings, '[]'), staged_at = clock_timestamp()
     WHERE session_id = p_session_id;
    PERFORM @extschema@._audit('stage', p_session_id::text, true,
        jsonb_build_object('blocks', p_block_count, 'lines', p_line_count, 'replaces', v_loaded));
END
$$;

