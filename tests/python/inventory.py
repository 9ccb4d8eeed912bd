"""What an installed extension consists of, as the catalogs say: for install-versus-upgrade tests.

``inventory(conn)`` describes every object that belongs to vcf_pg_loader or
its companion (pg_depend's extension membership) with what a caller or an
auditor could tell apart: a function's full definition (body, SECURITY
DEFINER, its pinned SET clauses) and privileges; a table's columns, defaults,
constraints, indexes, triggers, policies, options and privileges; the schema's
privileges and default privileges; comments; the tables pg_dump keeps
(extconfig); the project roles and their memberships. A fresh install and an
upgrade from the previous version must give equal inventories
(tests/python/integration/test_upgrade.py), as pg_partman checks its updates.
Data (audit rows, keys) is not part of it.
"""

from __future__ import annotations

from typing import Any

import psycopg

EXTENSIONS = ("vcf_pg_loader", "vcf_pg_loader_plpython")

_MEMBERS = """
SELECT d.classid, d.objid, e.extname
  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
 WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
   AND e.extname = ANY(%(ext)s)
"""

_QUERIES: dict[str, str] = {
    # Every member, by its description: what DROP EXTENSION would remove.
    "members": f"""
        SELECT m.extname, pg_catalog.pg_describe_object(m.classid, m.objid, 0)
          FROM ({_MEMBERS}) m""",
    "functions": f"""
        SELECT m.extname, p.oid::regprocedure::text, pg_catalog.pg_get_functiondef(p.oid),
               coalesce(p.proacl::text, ''), pg_catalog.pg_get_userbyid(p.proowner)::text,
               coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '')
          FROM ({_MEMBERS}) m JOIN pg_catalog.pg_proc p ON p.oid = m.objid
         WHERE m.classid = 'pg_catalog.pg_proc'::regclass""",
    "relations": f"""
        SELECT m.extname, c.oid::regclass::text, c.relkind::text, c.relpersistence::text,
               c.relrowsecurity, c.relforcerowsecurity, coalesce(c.reloptions::text, ''),
               coalesce(c.relacl::text, ''), pg_catalog.pg_get_userbyid(c.relowner)::text,
               coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), ''),
               coalesce(pg_catalog.pg_get_viewdef(c.oid), '')
          FROM ({_MEMBERS}) m JOIN pg_catalog.pg_class c ON c.oid = m.objid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass""",
    "columns": f"""
        SELECT c.oid::regclass::text, a.attnum, a.attname::text,
               pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
               coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), ''),
               a.attidentity::text, a.attgenerated::text, coalesce(a.attacl::text, ''),
               coalesce(pg_catalog.col_description(c.oid, a.attnum), ''),
               a.attstorage::text, a.attcompression::text
          FROM ({_MEMBERS}) m JOIN pg_catalog.pg_class c ON c.oid = m.objid
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                                        AND NOT a.attisdropped
          LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
         WHERE m.classid = 'pg_catalog.pg_class'::regclass""",
    "constraints": f"""
        SELECT k.conrelid::regclass::text, k.conname::text, pg_catalog.pg_get_constraintdef(k.oid),
               k.condeferrable, k.condeferred
          FROM ({_MEMBERS}) m JOIN pg_catalog.pg_constraint k ON k.conrelid = m.objid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass""",
    "indexes": f"""
        SELECT i.indrelid::regclass::text, pg_catalog.pg_get_indexdef(i.indexrelid)
          FROM ({_MEMBERS}) m JOIN pg_catalog.pg_index i ON i.indrelid = m.objid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass""",
    "triggers": f"""
        SELECT t.tgrelid::regclass::text, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled::text
          FROM ({_MEMBERS}) m JOIN pg_catalog.pg_trigger t ON t.tgrelid = m.objid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass AND NOT t.tgisinternal""",
    "policies": f"""
        SELECT p.polrelid::regclass::text, p.polname::text, p.polcmd::text, p.polpermissive,
               p.polroles::regrole[]::text,
               coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), ''),
               coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '')
          FROM ({_MEMBERS}) m JOIN pg_catalog.pg_policy p ON p.polrelid = m.objid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass""",
    "types": f"""
        SELECT t.oid::regtype::text, t.typtype::text, coalesce(t.typacl::text, '')
          FROM ({_MEMBERS}) m JOIN pg_catalog.pg_type t ON t.oid = m.objid
         WHERE m.classid = 'pg_catalog.pg_type'::regclass""",
    "schemas": """
        SELECT n.nspname::text, coalesce(n.nspacl::text, ''),
               pg_catalog.pg_get_userbyid(n.nspowner)::text,
               coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '')
          FROM pg_catalog.pg_namespace n
         WHERE n.oid IN (SELECT extnamespace FROM pg_catalog.pg_extension
                          WHERE extname = ANY(%(ext)s))""",
    "default_privileges": """
        SELECT pg_catalog.pg_get_userbyid(d.defaclrole)::text,
               coalesce(d.defaclnamespace::regnamespace::text, ''), d.defaclobjtype::text,
               d.defaclacl::text
          FROM pg_catalog.pg_default_acl d""",
    "config_tables": """
        SELECT e.extname::text, c.oid::regclass::text, coalesce(e.extcondition[i], '')
          FROM pg_catalog.pg_extension e,
               LATERAL pg_catalog.generate_subscripts(e.extconfig, 1) i
          JOIN pg_catalog.pg_class c ON true
         WHERE e.extname = ANY(%(ext)s) AND c.oid = e.extconfig[i]""",
    "extensions": """
        SELECT e.extname::text, e.extversion, e.extrelocatable,
               pg_catalog.pg_get_userbyid(e.extowner)::text, e.extnamespace::regnamespace::text
          FROM pg_catalog.pg_extension e WHERE e.extname = ANY(%(ext)s)""",
    "roles": """
        SELECT r.rolname::text, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,
               r.rolcanlogin, r.rolbypassrls,
               coalesce(pg_catalog.shobj_description(r.oid, 'pg_authid'), '')
          FROM pg_catalog.pg_roles r WHERE r.rolname LIKE 'vcf\\_%%'""",
    "memberships": """
        SELECT g.rolname::text, u.rolname::text, m.admin_option
          FROM pg_catalog.pg_auth_members m
          JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
          JOIN pg_catalog.pg_roles u ON u.oid = m.member
         WHERE g.rolname LIKE 'vcf\\_%%' AND u.rolname LIKE 'vcf\\_%%'""",
}


def inventory(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Each part of the installed extensions, as a sorted list of rows."""
    params = {"ext": list(EXTENSIONS)}
    return {
        name: sorted((tuple(row) for row in conn.execute(query, params)), key=repr)
        for name, query in _QUERIES.items()
    }


def differences(
    fresh: dict[str, list[tuple[Any, ...]]], upgraded: dict[str, list[tuple[Any, ...]]]
) -> list[str]:
    """What one inventory has that the other lacks, part by part (empty when equal)."""
    found = []
    for part in fresh:
        a, b = set(fresh[part]), set(upgraded[part])
        found += [f"{part}: only in a fresh install: {row!r}" for row in sorted(a - b, key=repr)]
        found += [f"{part}: only after the upgrade: {row!r}" for row in sorted(b - a, key=repr)]
    return found
