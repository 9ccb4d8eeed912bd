CREATE FUNCTION @extschema@._server_verify_wrapping(
    p_key_id uuid, p_provider text, p_kek_id text, p_wrapped_key bytea,
    OUT o_verified boolean, OUT o_sqlstate text, OUT o_message text, OUT o_hint text)
LANGUAGE plpython3u VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
# For vcf.rewrap_key (through dynamic SQL: the core extension does not depend
# on the companion): unwraps a proposed new wrapped form of a data key in the
# server, with the provider the DBA configured, under the new KEK id and the
# key's stored encryption context, and compares the result with the stored
# key check value. o_verified: true (it is this key), false (it is not, or it
# does not unwrap: o_sqlstate, o_message and o_hint say why, with no key
# material), NULL when the server does not unwrap p_provider's keys (not
# configured, or configured for another provider). The unwrapped key is
# dropped at once. Audits nothing: vcf.rewrap_key audits its refusal.
# Granted to no one.
lib = GD.get("vcf_pg_loader.server_keys")
if lib is None:
    plpy.execute("SELECT @extschema@._server_key_lib()")
    lib = GD["vcf_pg_loader.server_keys"]
return lib.verify(p_key_id, p_provider, p_kek_id, p_wrapped_key)
$$;
