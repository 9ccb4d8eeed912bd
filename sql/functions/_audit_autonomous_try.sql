CREATE FUNCTION @extschema@._audit_autonomous_try(
    p_action text, p_target text, p_succeeded boolean, p_details jsonb DEFAULT '{}')
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_message text;
BEGIN
    -- vcf._audit_autonomous for refusals and failures, which are raised
    -- anyway: when the row cannot be written, a WARNING says so and the
    -- caller's own error is not masked. Returns whether the row was written.
    PERFORM @extschema@._audit_autonomous(p_action, p_target, p_succeeded, p_details);
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
    RAISE WARNING 'audit row (%, %) not written: %', p_action, coalesce(p_target, 'no target'), v_message;
    RETURN false;
END
$$;
