CREATE FUNCTION @extschema@._cleartext_tcp()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
-- True when the calling backend's client connection is TCP without TLS:
-- what vcf.unlock(key_id, key), vcf.reveal_sample and vcf.find_sample
-- refuse (VP009), since a key or a sample name would cross it in the clear.
-- A Unix socket (no client address) and TLS are false. GSSAPI encryption
-- counts as clear here: the project requires TLS. Granted to no one.
RETURN inet_client_addr() IS NOT NULL
   AND NOT coalesce((SELECT s.ssl FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()), false);
