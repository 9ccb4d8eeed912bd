-- Locks that serialise the extension's own work: the writers of the audit
-- chain and PHI key rotations (vcf._lock). They are row locks on this table,
-- not advisory locks: any login may take any advisory lock, and so could
-- stall every audited commit. No role but the owner has any privilege here,
-- so no one else can lock these rows: FOR UPDATE and FOR SHARE need UPDATE,
-- and LOCK TABLE needs a privilege on the table (the ACCESS SHARE lock that
-- a function such as pg_relation_size takes for a moment without one does
-- not conflict with a row lock).
CREATE TABLE @extschema@.locks (
    lock_name text PRIMARY KEY
        CONSTRAINT locks_name_known CHECK (lock_name IN ('audit_chain', 'rotate'))
);
INSERT INTO @extschema@.locks (lock_name) VALUES ('audit_chain'), ('rotate');
COMMENT ON TABLE @extschema@.locks IS
    'One row per lock of the extension (vcf._lock); owner only, so no other role can take them';
