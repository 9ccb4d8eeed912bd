-- Audit rows written by transactions still in progress, to be chained when
-- they commit: the deferred trigger audit_log_seal on this table does it and
-- removes the entry, so the queue is empty outside such transactions. The
-- trigger sits here, not on vcf.audit_log, so that audit_log itself never
-- has pending trigger events (TRUNCATE must reach its refusing trigger).
CREATE TABLE @extschema@.audit_seal_queue (
    audit_id bigint PRIMARY KEY
);
COMMENT ON TABLE @extschema@.audit_seal_queue IS
    'Audit rows of transactions in progress, chained and removed at commit';
