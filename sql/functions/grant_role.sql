CREATE FUNCTION @extschema@.grant_role(p_role text, p_member text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Grants one of the project roles (vcf_loader, vcf_analyst,
    -- vcf_phi_reader, vcf_key_admin, vcf_auditor) to a role, and audits it
    -- ('grant', target = role, details.member) in the same transaction.
    -- SECURITY DEFINER so that the grant and its audit row are one act; the
    -- caller must be allowed to grant the role anyway (vcf._role_change_check,
    -- which audits and raises refusals: 22023, 42704, 42501).
    PERFORM @extschema@._role_change_check('grant', p_role, p_member);
    EXECUTE format('GRANT %I TO %I', p_role, p_member);
    PERFORM @extschema@._audit('grant', p_role, true, jsonb_build_object('member', p_member));
END
$$;
