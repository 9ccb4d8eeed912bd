CREATE FUNCTION @extschema@._blind_index(p_phi_key bytea, p_name text)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
-- HMAC-SHA-256 of a sample name under a key derived from the PHI key: equal
-- names give equal indexes, and the index cannot be reversed without the key.
RETURN @extschema@._pgcrypto_hmac(
    convert_to(p_name, 'UTF8'),
    @extschema@._pgcrypto_hmac(convert_to('vcf-pg-loader blind index v1', 'UTF8'),
                               p_phi_key, 'sha256'),
    'sha256');

