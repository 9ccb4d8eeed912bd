CREATE FUNCTION @extschema@._server_unwrap(
    p_key_id uuid, OUT o_unlocked boolean, OUT o_sqlstate text, OUT o_message text, OUT o_hint text)
LANGUAGE plpython3u VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
# The PL/Python half of vcf._server_unlock, which raises what this returns:
# unwraps the data key with the server's provider (vcf._server_key_lib),
# keeps it for this transaction and audits it, or audits a refusal in an
# autonomous transaction and returns its SQLSTATE, message and hint (an
# error raised from PL/Python would read "plpy.Error: ..."). Granted to no one.
lib = GD.get("vcf_pg_loader.server_keys")
if lib is None:
    plpy.execute("SELECT @extschema@._server_key_lib()")
    lib = GD["vcf_pg_loader.server_keys"]
return lib.unlock(p_key_id)
$$;
