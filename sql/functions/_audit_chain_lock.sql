CREATE FUNCTION @extschema@._audit_chain_lock()
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Serialises the writers of the hash chain: taken by vcf._audit_seal
    -- and held until the sealing transaction ends (vcf._lock: a row lock no
    -- other role can take). Records in a transaction-local setting that this
    -- transaction holds it (vcf._audit_chain_lock_held), since a row lock
    -- held does not show in pg_locks.
    PERFORM @extschema@._lock('audit_chain');
    PERFORM pg_catalog.set_config('vcf_pg_loader.audit_chain_locked',
                                  pg_catalog.pg_current_xact_id()::text, true);
END
$$;
