CREATE FUNCTION @extschema@._key_check(p_key bytea)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
-- Key check value: first 16 bytes of HMAC-SHA-256(key, label). Lets unlock
-- reject a wrong key before any use; reveals nothing usable about the key.
RETURN substr(@extschema@._pgcrypto_hmac(
    convert_to('vcf-pg-loader key check v1', 'UTF8'), p_key, 'sha256'), 1, 16);

