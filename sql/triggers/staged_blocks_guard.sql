CREATE FUNCTION @extschema@._staged_blocks_guard()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- vcf_loader may COPY into vcf.staged_blocks (binary COPY is the fast
    -- path), but only into a session it is staging itself: one that is in
    -- state 'staging' and was begun by the same session user. Superusers are
    -- not checked (the tamper tests insert blocks as one). Runs as the
    -- inserting role, which reads vcf.sessions. Raises 42501.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = current_user AND r.rolsuper) THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.sessions s
                    WHERE s.session_id = NEW.session_id AND s.state = 'staging'
                      AND s.created_by = session_user) THEN
        RAISE EXCEPTION 'session % is not being staged by %', NEW.session_id, session_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Blocks go only into a session you opened with vcf.stage_begin, before vcf.stage_finish.';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER staged_blocks_guard
    BEFORE INSERT ON @extschema@.staged_blocks
    FOR EACH ROW EXECUTE FUNCTION @extschema@._staged_blocks_guard();
