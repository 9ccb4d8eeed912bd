CREATE FUNCTION @extschema@._audit_autonomous_try(
    p_action text, p_target text, p_succeeded boolean, p_details jsonb DEFAULT '{}')
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_message text;
BEGIN
    -- vcf._audit_autonomous for refusals and failures, which the caller
    -- raises right after. A refusal or failure that cannot be audited is an
    -- error of its own: VP070 naming the action and the refusal's SQLSTATE
    -- (details.sqlstate), raised instead of the caller's error, so that
    -- nothing is refused or fails without its audit row and no one mistakes
    -- it for the plain refusal. Returns true when the row was written.
    PERFORM @extschema@._audit_autonomous(p_action, p_target, p_succeeded, p_details);
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
    RAISE EXCEPTION '% of % refused or failed (%), and its audit row could not be written: %',
        p_action, coalesce(p_target, 'no target'),
        coalesce(p_details->>'sqlstate', p_details->>'refused', 'refusal'), v_message
        USING ERRCODE = 'VP070',
              HINT = 'The extension owner must reach this database through dblink: see "Audit loopback" in docs/security.md.';
END
$$;
