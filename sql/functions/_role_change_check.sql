CREATE FUNCTION @extschema@._role_change_check(p_action text, p_role text, p_member text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_actor   name := @extschema@._audit_actor();
    v_refusal text;
    v_code    text;
    v_hint    text;
BEGIN
    -- Checks a grant or revoke of a project role before vcf.grant_role or
    -- vcf.revoke_role (SECURITY DEFINER, so running as the extension owner)
    -- performs it: the role must be one of the project's, the member an
    -- existing role that is not a project role, and the caller must be
    -- allowed to do it without this function (superuser, CREATEROLE, or
    -- ADMIN OPTION on the role). A refusal is audited autonomously
    -- (p_action, succeeded = false) and raised: 22023, 42704 or 42501.
    IF p_role IS NULL OR NOT p_role = ANY (@extschema@._project_roles()) THEN
        v_refusal := 'not a project role';
        v_code := 'invalid_parameter_value';
        v_hint := 'The project roles are ' || array_to_string(@extschema@._project_roles(), ', ') || '.';
    ELSIF p_member IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_member) THEN
        v_refusal := 'no such member role';
        v_code := 'undefined_object';
        v_hint := 'Create the login role first (CREATE ROLE ... LOGIN).';
    ELSIF p_member = ANY (@extschema@._project_roles()) THEN
        v_refusal := 'member is a project role';
        v_code := 'invalid_parameter_value';
        v_hint := 'Grant project roles to users, not to each other.';
    ELSIF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = v_actor
                         AND (r.rolsuper OR r.rolcreaterole))
          AND NOT pg_has_role(v_actor, p_role, 'MEMBER WITH ADMIN OPTION') THEN
        v_refusal := 'caller may not administer the role';
        v_code := 'insufficient_privilege';
        v_hint := 'Ask a DBA (superuser, CREATEROLE, or ADMIN OPTION on the role).';
    ELSE
        RETURN;
    END IF;
    PERFORM @extschema@._audit_autonomous_try(p_action, left(p_role, 63), false,
        jsonb_build_object('member', left(p_member, 63), 'refused', v_refusal));
    RAISE EXCEPTION 'cannot % role % %: %', p_action, p_role,
        CASE p_action WHEN 'grant' THEN 'to ' ELSE 'from ' END || coalesce(p_member, 'NULL'), v_refusal
        USING ERRCODE = v_code, HINT = v_hint;
END
$$;
