CREATE FUNCTION @extschema@._transport_refusal(OUT refused text, OUT why text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ssl   boolean;
    v_owner name;
BEGIN
    -- Why vcf.unlock(key_id, key), vcf.reveal_sample and vcf.find_sample
    -- must refuse this backend's connection (VP009), or all NULL when they
    -- need not: a Unix socket (no client address) or TLS. A key or a sample
    -- name would cross TCP without TLS in the clear (GSSAPI encryption counts
    -- as clear here: the project requires TLS). The TLS status comes from
    -- pg_stat_ssl, which shows another login's backend only to a role with
    -- pg_read_all_stats (these functions run as the extension owner): when
    -- the owner cannot see it, the connection is refused too (fail closed),
    -- saying so. Granted to no one.
    IF inet_client_addr() IS NULL THEN
        RETURN;
    END IF;
    SELECT s.ssl INTO v_ssl FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid();
    IF v_ssl THEN
        RETURN;
    END IF;
    IF v_ssl IS NOT NULL THEN
        refused := 'TCP without TLS';
        why := 'over TCP without TLS';
        hint := 'Connect through the Unix socket or with TLS (sslmode=verify-full; on RDS set '
                'rds.force_ssl = 1); a key sent in the clear should be treated as exposed: '
                'rotate it (vcfctl keys rotate).';
        RETURN;
    END IF;
    SELECT r.rolname INTO v_owner
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_roles r ON r.oid = e.extowner
     WHERE e.extname = 'vcf_pg_loader';
    refused := 'TLS status not visible';
    why := format('on a connection whose TLS status the extension owner %s cannot see', v_owner);
    hint := format('GRANT pg_read_all_stats TO %s (as a superuser; on AWS RDS the master user, '
                   'a member of rds_superuser, can already see it).', quote_ident(v_owner));
END
$$;
