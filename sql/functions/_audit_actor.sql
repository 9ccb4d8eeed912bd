CREATE FUNCTION @extschema@._audit_actor()
RETURNS name
LANGUAGE sql STABLE
-- The role the caller acts as: the role set with SET ROLE, else the session
-- user. SECURITY DEFINER changes current_user but not the role setting, so
-- this still names the caller inside the extension's own functions.
RETURN CASE WHEN current_setting('role') = 'none' THEN session_user
            ELSE current_setting('role')::name END;
