-- Privileges and hardening of schema vcf:
--   * nothing in schema vcf is granted to PUBLIC: the schema, its relations
--     and its functions (default ACLs included: a function with a NULL proacl
--     is EXECUTE-able by PUBLIC), and a role with no grants can use nothing;
--   * every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp;
--   * vcf.audit_log is append-only: UPDATE, DELETE and TRUNCATE are refused
--     even for the superuser that owns it (the role running this test).
BEGIN;
SELECT plan(21);

-- ---------------------------------------------------------------- nothing for PUBLIC
SELECT is_empty($$
    SELECT n.nspname, a.privilege_type
      FROM pg_namespace n,
           aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
     WHERE n.nspname = 'vcf' AND a.grantee = 0$$,
    'schema vcf grants nothing to PUBLIC');
SELECT is_empty($$
    SELECT c.oid::regclass, a.privilege_type
      FROM pg_class c,
           aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                                     c.relowner))) a
     WHERE c.relnamespace = 'vcf'::regnamespace AND a.grantee = 0$$,
    'no table, sequence or view in schema vcf grants anything to PUBLIC');
SELECT is_empty($$
    SELECT p.oid::regprocedure, a.privilege_type
      FROM pg_proc p,
           aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
     WHERE p.pronamespace = 'vcf'::regnamespace AND a.grantee = 0$$,
    'no function in schema vcf is EXECUTE-able by PUBLIC (NULL proacl counts as the default grant)');
SELECT cmp_ok((SELECT count(*)::integer FROM pg_proc WHERE pronamespace = 'vcf'::regnamespace), '>=', 20,
              'the function check above saw the extension''s functions');
SELECT cmp_ok((SELECT count(*)::integer FROM pg_class
                WHERE relnamespace = 'vcf'::regnamespace AND relkind IN ('r', 'S')), '>=', 12,
              'the relation check above saw the extension''s tables and sequences');

-- A role that was granted nothing can use nothing (roles are transactional:
-- this one is gone after ROLLBACK).
CREATE ROLE vcf_pgtap_nobody NOLOGIN;
SET LOCAL ROLE vcf_pgtap_nobody;
SELECT throws_ok('SELECT count(*) FROM vcf.audit_log', '42501', NULL,
                 'a role without grants cannot read vcf.audit_log');
SELECT throws_ok('SELECT vcf.active_phi_key_id()', '42501', NULL,
                 'a role without grants cannot call vcf.active_phi_key_id()');
SELECT throws_ok($$SELECT vcf.unlock('00000000-0000-4000-8000-00000000b001', '\x00')$$, '42501', NULL,
                 'a role without grants cannot call vcf.unlock');
SELECT throws_ok($$SELECT vcf.vcf_ingest('00000000-0000-4000-8000-00000000b001')$$, '42501', NULL,
                 'a role without grants cannot call vcf.vcf_ingest');
SELECT is(has_schema_privilege('vcf_pgtap_nobody', 'vcf', 'USAGE'), false,
          'a role without grants has no USAGE on schema vcf');
RESET ROLE;

-- ---------------------------------------------------------------- SECURITY DEFINER
SELECT is_empty($$
    SELECT p.oid::regprocedure, p.proconfig
      FROM pg_proc p
     WHERE p.pronamespace = 'vcf'::regnamespace AND p.prosecdef
       AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)$$,
    'every SECURITY DEFINER function in schema vcf sets search_path = pg_catalog, pg_temp');
SELECT ok((SELECT bool_and(prosecdef) FROM pg_proc
            WHERE oid IN ('vcf.unlock(uuid, bytea)'::regprocedure, 'vcf.vcf_ingest(uuid, text, boolean)'::regprocedure,
                          'vcf.key_register(uuid, text, text, text, bytea, jsonb, bytea)'::regprocedure)),
          'the check above is not vacuous: unlock, vcf_ingest and key_register are SECURITY DEFINER');

-- ---------------------------------------------------------------- audit_log is append-only
SELECT ok((SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
          'precondition: this test runs as a superuser');
SELECT ok((SELECT tableowner::text FROM pg_tables WHERE schemaname = 'vcf' AND tablename = 'audit_log')
          IN (current_user::text, 'rds_admin'),
          'precondition: vcf.audit_log belongs to this superuser, or to rds_admin (the portable profile)');
SELECT lives_ok($$SELECT vcf._audit('pgtap_security', 'target-1', true, '{"n": 1}')$$,
                'vcf._audit appends a row');
CREATE TEMPORARY TABLE audit_before ON COMMIT DROP AS SELECT * FROM vcf.audit_log;
SELECT throws_ok($$UPDATE vcf.audit_log SET succeeded = NOT succeeded WHERE action = 'pgtap_security'$$,
                 '42501', 'vcf.audit_log is append-only: UPDATE is not allowed',
                 'UPDATE of vcf.audit_log is refused, even for its superuser owner');
SELECT throws_ok($$DELETE FROM vcf.audit_log WHERE action = 'pgtap_security'$$,
                 '42501', 'vcf.audit_log is append-only: DELETE is not allowed',
                 'DELETE from vcf.audit_log is refused, even for its superuser owner');
SELECT throws_ok('TRUNCATE vcf.audit_log',
                 '42501', 'vcf.audit_log is append-only: TRUNCATE is not allowed',
                 'TRUNCATE of vcf.audit_log is refused, even for its superuser owner');
SELECT throws_ok('DELETE FROM vcf.audit_log',
                 '42501', NULL,
                 'DELETE of every row (no WHERE) is refused too');
SELECT set_eq('SELECT * FROM vcf.audit_log', 'SELECT * FROM audit_before',
              'vcf.audit_log is unchanged after the refused statements');
SELECT results_eq(
    $$SELECT target, succeeded, details->>'n', session_role = session_user
        FROM vcf.audit_log WHERE action = 'pgtap_security'$$,
    $$VALUES ('target-1'::text, true, '1'::text, true)$$,
    'the appended row is there as written');

SELECT * FROM finish();
ROLLBACK;
