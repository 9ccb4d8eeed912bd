CREATE FUNCTION @extschema@._audit_loopback()
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_owner  name;
    v_server name;
    v_host   text;
BEGIN
    -- Where vcf._audit_autonomous sends its row, as a dblink target: the
    -- foreign server vcf_audit_loopback (FOREIGN DATA WRAPPER dblink_fdw,
    -- with a user mapping for the extension owner; the way on managed
    -- services such as AWS RDS, where a password is needed) when one exists
    -- and belongs to the extension owner or a superuser; otherwise this
    -- database over the server's first Unix socket directory (localhost when
    -- there is none), as the extension owner (a superuser needs no password
    -- when pg_hba.conf trusts or peer-maps the local socket).
    SELECT r.rolname INTO STRICT v_owner
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_roles r ON r.oid = e.extowner
     WHERE e.extname = 'vcf_pg_loader';
    SELECT s.srvname INTO v_server
      FROM pg_catalog.pg_foreign_server s
      JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
      JOIN pg_catalog.pg_roles o ON o.oid = s.srvowner
     WHERE s.srvname = 'vcf_audit_loopback' AND w.fdwname = 'dblink_fdw'
       AND (o.rolname = v_owner OR o.rolsuper);
    IF FOUND THEN
        RETURN v_server;
    END IF;
    v_host := nullif(btrim(split_part(current_setting('unix_socket_directories'), ',', 1)), '');
    RETURN format('host=%s port=%s dbname=%s user=%s connect_timeout=10 application_name=vcf_pg_loader_audit',
                  @extschema@._conninfo_quote(coalesce(v_host, 'localhost')),
                  current_setting('port'),
                  @extschema@._conninfo_quote(current_database()),
                  @extschema@._conninfo_quote(v_owner));
END
$$;
