-- Privileges, in one place (the matrix is in docs/security.md). First
-- nothing for PUBLIC: functions are created EXECUTE-able by PUBLIC by
-- default, so that is revoked too (upgrade scripts must do the same for the
-- functions they add: per-schema default privileges cannot revoke). Then
-- what each project role may use, from the table below. The extension owner (and superusers) can use
-- everything; vcf.audit_log is readable by no one else at all: auditors go
-- through vcf.audit_verify, vcf.audit_export and vcf.audit_head.
REVOKE ALL ON SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;

DO $grants$
DECLARE
    v_grant record;
    v_fn    regprocedure;
BEGIN
    FOR v_grant IN
        SELECT g.* FROM (VALUES
        -- role             kind        object              privilege
        ('vcf_loader',     'schema',   NULL,                'USAGE'),
        ('vcf_loader',     'function', 'stage_begin',       'EXECUTE'),
        ('vcf_loader',     'table',    'staged_blocks',     'INSERT'),          -- COPY ... FROM STDIN (FORMAT BINARY)
        ('vcf_loader',     'table',    'staged_blocks',     'SELECT (session_id, block_no, line_count)'),  -- never the ciphertext
        ('vcf_loader',     'function', 'stage_finish',      'EXECUTE'),
        ('vcf_loader',     'function', 'vcf_ingest',        'EXECUTE'),
        ('vcf_loader',     'function', 'unlock',            'EXECUTE'),
        ('vcf_loader',     'function', 'active_phi_key_id', 'EXECUTE'),
        ('vcf_loader',     'function', 'session_fail',      'EXECUTE'),
        ('vcf_loader',     'function', 'session_purge',     'EXECUTE'),
        -- PHI is write-only for loaders: no source_enc, header_enc (or manifest).
        ('vcf_loader',     'table',    'sessions',          'SELECT (session_id, state, staging_key_id, content_sha256,'
                                                            ' block_count, line_count, replaces, records, variants, calls,'
                                                            ' samples, warnings, error, created_by, created_at, staged_at,'
                                                            ' finished_at)'),
        ('vcf_loader',     'table',    'data_keys',         'SELECT'),          -- wrapped keys only
        ('vcf_analyst',    'schema',   NULL,                'USAGE'),
        ('vcf_analyst',    'table',    'variants',          'SELECT'),
        ('vcf_analyst',    'table',    'records',           'SELECT'),
        ('vcf_analyst',    'table',    'record_lines',      'SELECT'),
        ('vcf_analyst',    'table',    'calls',             'SELECT'),          -- a view (security_invoker) over records
        ('vcf_analyst',    'function', 'call\_%',          'EXECUTE'),         -- its decoders, inlined into queries
        ('vcf_analyst',    'table',    'session_samples',   'SELECT'),
        ('vcf_analyst',    'table',    'samples',           'SELECT (sample_id, created_at)'),
        ('vcf_analyst',    'table',    'sessions',          'SELECT (session_id, state, block_count, line_count, records,'
                                                            ' variants, calls, samples, warnings, created_at, staged_at, finished_at)'),
        ('vcf_phi_reader', 'schema',   NULL,                'USAGE'),
        ('vcf_phi_reader', 'function', 'reveal_sample',     'EXECUTE'),
        ('vcf_phi_reader', 'function', 'find_sample',       'EXECUTE'),
        ('vcf_phi_reader', 'function', 'unlock',            'EXECUTE'),
        ('vcf_phi_reader', 'function', 'active_phi_key_id', 'EXECUTE'),
        ('vcf_phi_reader', 'table',    'data_keys',         'SELECT'),          -- to unwrap the PHI key
        ('vcf_phi_reader', 'table',    'samples',           'SELECT (sample_id, created_at)'),
        ('vcf_key_admin',  'schema',   NULL,                'USAGE'),
        ('vcf_key_admin',  'function', 'key_register',      'EXECUTE'),
        ('vcf_key_admin',  'function', 'unlock',            'EXECUTE'),
        ('vcf_key_admin',  'function', 'active_phi_key_id', 'EXECUTE'),
        ('vcf_key_admin',  'function', 'rotate%',           'EXECUTE'),         -- key rotation functions
        ('vcf_key_admin',  'function', 'rewrap%',           'EXECUTE'),         -- KEK rewrapping functions
        ('vcf_key_admin',  'function', 'key_destroy',       'EXECUTE'),         -- crypto-shredding of retired keys
        ('vcf_key_admin',  'table',    'data_keys',         'SELECT'),
        ('vcf_key_admin',  'table',    'sessions',          'SELECT (session_id, state, staging_key_id, created_at, finished_at)'),
        ('vcf_auditor',    'schema',   NULL,                'USAGE'),
        ('vcf_auditor',    'function', 'audit_verify',      'EXECUTE'),
        ('vcf_auditor',    'function', 'audit_export',      'EXECUTE'),
        ('vcf_auditor',    'function', 'audit_head',        'EXECUTE'),
        -- Everyone may ask: a refused reveal or lookup is audited, which needs the call to happen.
        ('vcf_loader',     'function', 'reveal_sample',     'EXECUTE'),
        ('vcf_loader',     'function', 'find_sample',       'EXECUTE'),
        ('vcf_analyst',    'function', 'reveal_sample',     'EXECUTE'),
        ('vcf_analyst',    'function', 'find_sample',       'EXECUTE'),
        ('vcf_key_admin',  'function', 'reveal_sample',     'EXECUTE'),
        ('vcf_key_admin',  'function', 'find_sample',       'EXECUTE'),
        ('vcf_auditor',    'function', 'reveal_sample',     'EXECUTE'),
        ('vcf_auditor',    'function', 'find_sample',       'EXECUTE')
        ) AS g(role, kind, object, privilege)
    LOOP
        IF v_grant.kind = 'schema' THEN
            EXECUTE format('GRANT %s ON SCHEMA @extschema@ TO %I', v_grant.privilege, v_grant.role);
        ELSIF v_grant.kind = 'table' THEN
            -- Tables of work in progress may be absent; every grant is checked by tests/sql/audit.sql.
            CONTINUE WHEN to_regclass(format('@extschema@.%I', v_grant.object)) IS NULL;
            EXECUTE format('GRANT %s ON TABLE @extschema@.%I TO %I',
                           v_grant.privilege, v_grant.object, v_grant.role);
        ELSE
            FOR v_fn IN
                SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
                 WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname LIKE v_grant.object
            LOOP
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_fn, v_grant.role);
            END LOOP;
        END IF;
    END LOOP;
END
$grants$;
