CREATE FUNCTION @extschema@.stage_begin(
    p_session_id uuid, p_key_id uuid, p_provider text, p_kek_id text,
    p_wrapped_key bytea, p_encryption_context jsonb, p_key_check bytea,
    p_source_enc bytea)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Opens a staging session: registers its staging key (wrapped) and the
    -- source path (encrypted under that key). The control plane then COPYs
    -- the encrypted blocks and calls stage_finish, all in one transaction
    -- (vcfctl does), so an interrupted stage leaves nothing. A client that
    -- commits between the steps can leave a session in state 'staging';
    -- vcf.session_purge removes it.
    PERFORM @extschema@.key_register(p_key_id, 'staging', p_provider, p_kek_id,
                                     p_wrapped_key, p_encryption_context, p_key_check);
    INSERT INTO @extschema@.sessions (session_id, staging_key_id, source_enc)
    VALUES (p_session_id, p_key_id, p_source_enc);
    PERFORM @extschema@._audit('stage_begin', p_session_id::text, true,
                               jsonb_build_object('staging_key_id', p_key_id));
    RETURN p_session_id;
END
$$;

