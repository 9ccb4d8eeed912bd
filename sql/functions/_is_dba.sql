CREATE FUNCTION @extschema@._is_dba()
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_owner name;
BEGIN
    -- Whether the login (session_user, not current_user: inside SECURITY
    -- DEFINER that is the owner) is a DBA for the extension: a superuser, or
    -- a member of the extension owner's role (found as vcf._audit_loopback
    -- finds it). A DBA may purge any session; ingest and fail stay with the
    -- login that staged it.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = session_user AND r.rolsuper) THEN
        RETURN true;
    END IF;
    SELECT r.rolname INTO STRICT v_owner
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_roles r ON r.oid = e.extowner
     WHERE e.extname = 'vcf_pg_loader';
    RETURN pg_catalog.pg_has_role(session_user, v_owner, 'MEMBER');
END
$$;
