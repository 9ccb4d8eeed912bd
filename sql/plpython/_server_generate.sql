CREATE FUNCTION @extschema@._server_generate(
    p_key_id uuid, p_context jsonb,
    OUT o_provider text, OUT o_kek_id text, OUT o_wrapped_key bytea, OUT o_key_check bytea,
    OUT o_sqlstate text, OUT o_message text, OUT o_hint text)
LANGUAGE plpython3u VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
# The PL/Python half of vcf._server_generate_key, which raises what this
# returns: a fresh data key from the server's provider (vcf._server_key_lib),
# kept for this transaction, as its wrapped form and key check value; or an
# audited refusal's SQLSTATE, message and hint. Granted to no one.
import json

lib = GD.get("vcf_pg_loader.server_keys")
if lib is None:
    plpy.execute("SELECT @extschema@._server_key_lib()")
    lib = GD["vcf_pg_loader.server_keys"]
return lib.generate(p_key_id, json.loads(p_context) if p_context is not None else {})
$$;
