-- Privileges, in one place. Nothing is granted to PUBLIC: functions are
-- created EXECUTE-able by PUBLIC by default, so that is revoked too. Roles
-- with narrower rights come with the role model; until then only the
-- extension owner (and superusers) can use the extension.
REVOKE ALL ON SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
