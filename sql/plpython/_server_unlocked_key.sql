CREATE FUNCTION @extschema@._server_unlocked_key(p_key_id uuid)
RETURNS bytea
LANGUAGE plpython3u VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
# The data key that vcf.unlock(key_id) unwrapped inside the server in this
# transaction, or NULL. For the extension's own functions (through
# vcf._try_unlocked_key), running as its owner: granted to no one.
lib = GD.get("vcf_pg_loader.server_keys")
if lib is None:
    plpy.execute("SELECT @extschema@._server_key_lib()")
    lib = GD["vcf_pg_loader.server_keys"]
return lib.unlocked_key(p_key_id)
$$;
