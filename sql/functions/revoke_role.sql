CREATE FUNCTION @extschema@.revoke_role(p_role text, p_member text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_was_member boolean;
BEGIN
    -- Revokes a project role from a role, and audits it ('revoke', target =
    -- role, details: member and whether it was a direct member) in the same
    -- transaction. Same checks and refusals as vcf.grant_role.
    PERFORM @extschema@._role_change_check('revoke', p_role, p_member);
    SELECT EXISTS (SELECT 1 FROM pg_auth_members m
                    WHERE m.roleid = to_regrole(quote_ident(p_role))
                      AND m.member = to_regrole(quote_ident(p_member)))
      INTO v_was_member;
    IF v_was_member THEN
        EXECUTE format('REVOKE %I FROM %I', p_role, p_member);
    END IF;
    PERFORM @extschema@._audit('revoke', p_role, true,
        jsonb_build_object('member', p_member, 'was_member', v_was_member));
END
$$;
