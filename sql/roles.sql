-- The project's roles (see docs/security.md). Roles belong to the cluster,
-- not to a database: create each one unless it exists (a second database
-- with the extension shares them; DROP EXTENSION leaves them). They are
-- NOLOGIN groups: a DBA grants them to login roles (vcfctl roles grant).
-- Their privileges are in grants.sql, per database.
DO $roles$
DECLARE
    v_role  name;
    v_found record;
BEGIN
    FOREACH v_role IN ARRAY @extschema@._project_roles() LOOP
        SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, r.rolcanlogin
          INTO v_found FROM pg_catalog.pg_roles r WHERE r.rolname = v_role;
        IF NOT FOUND THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
        ELSIF v_found.rolsuper OR v_found.rolcreaterole OR v_found.rolcreatedb
              OR v_found.rolbypassrls OR v_found.rolcanlogin THEN
            RAISE WARNING 'role % exists with more than it needs (superuser, createrole, createdb, bypassrls or login)', v_role
                USING HINT = format('ALTER ROLE %I NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS NOLOGIN', v_role);
        END IF;
    END LOOP;
END
$roles$;
