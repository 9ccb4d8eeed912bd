CREATE FUNCTION @extschema@._audit_chain_lock_held()
RETURNS boolean
LANGUAGE sql STABLE
-- Whether this backend holds the chain lock of vcf._audit_chain_lock.
RETURN EXISTS (
    SELECT 1 FROM pg_catalog.pg_locks l
     WHERE l.locktype = 'advisory' AND l.pid = pg_catalog.pg_backend_pid() AND l.granted
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                          WHERE d.datname = pg_catalog.current_database())
       AND l.classid = 1986225776::oid AND l.objid = 1635083369::oid AND l.objsubid = 2);
