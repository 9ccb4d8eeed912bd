CREATE FUNCTION @extschema@._audit(
    p_action text, p_target text, p_succeeded boolean, p_details jsonb DEFAULT '{}')
RETURNS void
LANGUAGE sql VOLATILE
-- The only writer of vcf.audit_log. Callers pass ids and counts, never PHI
-- or key material.
BEGIN ATOMIC
    INSERT INTO @extschema@.audit_log (action, target, succeeded, details)
    VALUES (p_action, p_target, p_succeeded,
            coalesce(p_details, '{}'::jsonb));
END;

