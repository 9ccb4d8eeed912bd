-- Privileges of the companion, in one place: nothing for PUBLIC.
REVOKE ALL ON FUNCTION @extschema@.plpython_info() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._ingest_block_py(uuid, text, bigint, bigint, integer, bigint[], jsonb) FROM PUBLIC;
