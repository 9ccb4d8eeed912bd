-- Privileges of the companion, in one place: nothing for PUBLIC.
REVOKE ALL ON FUNCTION @extschema@.plpython_info() FROM PUBLIC;
