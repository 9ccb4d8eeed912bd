CREATE FUNCTION @extschema@._audit_chain_lock_held()
RETURNS boolean
LANGUAGE sql STABLE
-- Whether this transaction took the chain lock (vcf._audit_chain_lock). The
-- setting is transaction-local and names the transaction; a caller who sets
-- it by hand only makes its own autonomous audit writes refuse (VP070).
RETURN coalesce(current_setting('vcf_pg_loader.audit_chain_locked', true)
                = pg_catalog.pg_current_xact_id_if_assigned()::text, false);
