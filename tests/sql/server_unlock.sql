-- In-server unwrapping (the plpython companion) where it is not configured,
-- as on the shared test cluster (configured clusters: tests/python/
-- integration/test_server_unlock.py):
--   * vcf.unlock(key_id) is SECURITY DEFINER with a pinned search_path, granted
--     to vcf_loader, vcf_phi_reader and vcf_key_admin only; the internal
--     vcf._server_* functions and the key hooks are granted to no one;
--   * it raises VP008 and audits the refusal in an autonomous transaction;
--     a session's SET of the vcf_pg_loader.* server settings changes nothing;
--   * vcf._try_unlocked_key returns a key from vcf.unlock(key_id, key), else
--     NULL (vcf._unlocked_key raises VP004 as before); a forged 'server:'
--     token unlocks nothing;
--   * vcf._server_generate_key raises VP008.
-- Keys are sha512 of fixed labels: test patterns, not key material.
BEGIN;
SELECT plan(21);

\set st_id '00000000-0000-4000-8000-00000000c001'
\set other_id '00000000-0000-4000-8000-00000000c002'

CREATE TEMPORARY TABLE k ON COMMIT DROP AS
SELECT sha512(convert_to('vcf-pg-loader pgTAP server unlock: staging', 'UTF8')) AS st,
       sha512(convert_to('vcf-pg-loader pgTAP server unlock: other', 'UTF8')) AS other;
SELECT vcf.key_register(:'st_id', 'staging', 'local', 'test-kek', '\x0badc0de'::bytea, '{}',
                        vcf._key_check(st)) AS st_registered FROM k \gset
SELECT vcf.key_register(:'other_id', 'staging', 'local', 'test-kek', '\x0badc0de'::bytea, '{}',
                        vcf._key_check(other)) AS other_registered FROM k \gset

-- ---------------------------------------------------------------- privileges
SELECT ok((SELECT prosecdef AND proconfig @> ARRAY['search_path=pg_catalog, pg_temp']
             FROM pg_proc WHERE oid = 'vcf.unlock(uuid)'::regprocedure),
          'vcf.unlock(uuid) is SECURITY DEFINER with search_path = pg_catalog, pg_temp');
SELECT is(array_agg(r ORDER BY r) FILTER (WHERE has_function_privilege(r, 'vcf.unlock(uuid)', 'EXECUTE')),
          ARRAY['vcf_key_admin', 'vcf_loader', 'vcf_phi_reader']::name[],
          'vcf.unlock(uuid) is granted to vcf_loader, vcf_phi_reader and vcf_key_admin only')
  FROM unnest(vcf._project_roles()) AS r;
SELECT is_empty($$
    SELECT p.oid::regprocedure, r
      FROM pg_proc p, unnest(vcf._project_roles()) AS r
     WHERE p.oid IN ('vcf._server_unlocked_key(uuid)'::regprocedure, 'vcf._server_unlock(uuid)'::regprocedure,
                     'vcf._server_generate_key(uuid, jsonb)'::regprocedure, 'vcf._server_key_lib()'::regprocedure,
                     'vcf._server_unwrap(uuid)'::regprocedure, 'vcf._server_generate(uuid, jsonb)'::regprocedure,
                     'vcf._server_verify_wrapping(uuid, text, text, bytea)'::regprocedure,
                     'vcf._try_unlocked_key(uuid)'::regprocedure, 'vcf._unlocked_key(uuid)'::regprocedure)
       AND has_function_privilege(r, p.oid, 'EXECUTE')$$,
    'no project role may call the server key functions or the key hooks');
SELECT is_empty($$
    SELECT p.oid::regprocedure
      FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
     WHERE p.proname LIKE '\_server\_%' AND p.pronamespace = 'vcf'::regnamespace AND a.grantee = 0$$,
    'nor PUBLIC');
SELECT is((SELECT count(*)::integer FROM pg_proc
            WHERE pronamespace = 'vcf'::regnamespace AND proname LIKE '\_server\_%'),
          7, 'the seven vcf._server_* functions exist (the checks above are not vacuous)');
SET LOCAL ROLE vcf_analyst;
SELECT throws_ok(format('SELECT vcf.unlock(%L::uuid)', :'st_id'), '42501', NULL,
                 'vcf_analyst cannot call vcf.unlock(uuid)');
RESET ROLE;

-- ---------------------------------------------------------------- not configured
SELECT is_empty($$SELECT name FROM pg_file_settings WHERE name LIKE 'vcf\_pg\_loader.server\_%'$$,
                'precondition: the test cluster configures no server-side unwrapping');
SELECT throws_ok(format('SELECT vcf.unlock(%L::uuid)', :'st_id'),
                 'VP008', 'server-side key unwrapping is not configured',
                 'vcf.unlock(uuid) raises VP008 when server-side unwrapping is not configured');
SELECT is((SELECT count(*)::integer FROM vcf.audit_log
            WHERE action = 'unlock' AND target = :'st_id' AND NOT succeeded
              AND details @> '{"sqlstate": "VP008", "via": "server"}'),
          1, 'the refusal is audited (autonomously, so the row is there already)');
SELECT is(vcf._try_unlocked_key(:'st_id'), NULL, '_try_unlocked_key of a key not unlocked is NULL');
SELECT throws_ok(format('SELECT vcf._unlocked_key(%L)', :'st_id'),
                 'VP004', format('data key %s is not unlocked in this transaction', :'st_id'),
                 '_unlocked_key still raises VP004');
SELECT throws_ok($$SELECT * FROM vcf._server_generate_key(gen_random_uuid(), '{}')$$,
                 'VP008', 'server-side key unwrapping is not configured',
                 '_server_generate_key raises VP008 when not configured');

-- A caller cannot turn it on, or point it elsewhere, from the session.
SET LOCAL vcf_pg_loader.server_key_provider = 'local';
SET LOCAL vcf_pg_loader.server_master_key_file = '/tmp/evil.key';
SELECT throws_ok(format('SELECT vcf.unlock(%L::uuid)', :'st_id'),
                 'VP008', 'server-side key unwrapping is not configured',
                 'a session''s SET vcf_pg_loader.server_key_provider is ignored');
SELECT is(vcf._try_unlocked_key(:'st_id'), NULL, 'and _try_unlocked_key does not unwrap either');
RESET vcf_pg_loader.server_key_provider;
RESET vcf_pg_loader.server_master_key_file;

-- ---------------------------------------------------------------- keys from vcf.unlock(key_id, key)
SELECT lives_ok(format('SELECT vcf.unlock(%L, %L::bytea)', :'st_id', st), 'unlock(key_id, key) succeeds')
  FROM k;
SELECT is(vcf._try_unlocked_key(:'st_id'), st, '_try_unlocked_key returns the key unlock(key_id, key) kept')
  FROM k;
SELECT is(vcf._unlocked_key(:'st_id'), st, 'and so does _unlocked_key') FROM k;
SELECT is(vcf._server_unlocked_key(:'st_id'), NULL, 'that key is not a server-unlocked one');
SELECT vcf._forget_key(:'st_id') AS st_forgotten \gset
SELECT is(vcf._try_unlocked_key(:'st_id'), NULL, '_forget_key forgets it');

-- A forged token names no key in the server's memory.
SELECT set_config(vcf._key_setting(:'other_id'), 'server:' || repeat('0', 32), true) AS forged \gset
SELECT is(vcf._server_unlocked_key(:'other_id'), NULL, 'a forged server: token unlocks nothing');
SELECT is(vcf._try_unlocked_key(:'other_id'), NULL, 'nor through _try_unlocked_key');

SELECT * FROM finish();
ROLLBACK;
