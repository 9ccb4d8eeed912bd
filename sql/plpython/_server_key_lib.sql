CREATE FUNCTION @extschema@._server_key_lib()
RETURNS void
LANGUAGE plpython3u VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
# In-server key unwrapping, shared by vcf._server_unwrap,
# vcf._server_generate, vcf._server_unlocked_key and
# vcf._server_verify_wrapping: defines it once per
# database session in GD["vcf_pg_loader.server_keys"].
#
# Configuration comes from the server's configuration files only
# (pg_file_settings: postgresql.conf, its includes, ALTER SYSTEM), never from
# a setting a session can change. An unwrapped key lives only in this
# backend's memory (the `unlocked` dict), under a random token; the
# transaction-local setting vcf._key_setting(key_id) holds 'server:' and the
# token, so the key is used only in the transaction that unlocked it (and is
# forgotten with vcf._forget_key). Every access checks the entry's key id and
# transaction and purges the entries of other transactions. Nothing here puts
# key material in SQL text, a setting, an error or a log line.
import hashlib
import hmac
import json
import os
import secrets
import stat
from types import SimpleNamespace

KEY_BYTES = 64
MASTER_KEY_BYTES = 32
WRAP_VERSION = b"\x01"
TOKEN_PREFIX = "server:"
NOT_CONFIGURED_HINT = ("Ask the DBA to configure vcf_pg_loader.server_key_provider (docs/security.md), "
                       "or unlock with vcf.unlock(key_id, key) from the control plane.")
unlocked = {}      # token -> (key id, key, transaction)
kms_clients = {}   # (region, endpoint, credentials file) -> boto3 KMS client

plans = SimpleNamespace(
    settings=plpy.prepare(
        "SELECT name, setting FROM pg_catalog.pg_file_settings"
        " WHERE pg_catalog.starts_with(pg_catalog.lower(name), 'vcf_pg_loader.')"
        " AND error IS NULL ORDER BY seqno"),
    current=plpy.prepare(
        "SELECT pg_catalog.current_setting(@extschema@._key_setting($1), true) AS token,"
        " EXTRACT(epoch FROM pg_catalog.transaction_timestamp()) AS xact_ts,"
        " pg_catalog.pg_backend_pid() AS pid",
        ["uuid"]),
    set_token=plpy.prepare(
        "SELECT pg_catalog.set_config(@extschema@._key_setting($1), $2, true)", ["uuid", "text"]),
    key_row=plpy.prepare(
        "SELECT purpose, provider, kek_id, wrapped_key, encryption_context::text AS context,"
        " key_check, state, previous_wrapped_key IS NOT NULL AS has_previous"
        " FROM @extschema@.data_keys WHERE key_id = $1", ["uuid"]),
    # a wrapped form kept for vcf.rewrap_undo goes once the server has unwrapped
    # the current one; never waits for a row lock (an ingest holds it FOR SHARE)
    drop_previous=plpy.prepare(
        "UPDATE @extschema@.data_keys SET previous_provider = NULL, previous_kek_id = NULL,"
        " previous_wrapped_key = NULL, previous_replaced_at = NULL"
        " WHERE key_id IN (SELECT k.key_id FROM @extschema@.data_keys k"
        " WHERE k.key_id = $1 AND k.wrapped_key = $2 AND k.previous_wrapped_key IS NOT NULL"
        " FOR NO KEY UPDATE SKIP LOCKED) RETURNING key_id", ["uuid", "bytea"]),
    active_kms_kek=plpy.prepare(
        "SELECT kek_id FROM @extschema@.data_keys"
        " WHERE purpose = 'phi' AND state = 'active' AND provider = 'aws-kms'"),
    audit=plpy.prepare(
        "SELECT @extschema@._audit($1, $2, $3, $4)", ["text", "text", "boolean", "jsonb"]),
    audit_try=plpy.prepare(
        "SELECT @extschema@._audit_autonomous_try($1, $2, $3, $4)",
        ["text", "text", "boolean", "jsonb"]),
)


class Refused(Exception):
    """A refusal: audited, then raised to the caller with its SQLSTATE and hint."""

    def __init__(self, sqlstate, message, hint):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.hint = hint


def config():
    # the last valid entry of each vcf_pg_loader.* name in the configuration files
    found = {}
    for row in plpy.execute(plans.settings):
        found[row["name"].lower()[len("vcf_pg_loader."):]] = row["setting"] or ""
    return found


def transaction(key_id):
    row = plpy.execute(plans.current, [key_id])[0]
    return row["token"] or "", (row["xact_ts"], row["pid"])


def unlocked_key(key_id):
    """The key unwrapped in the server for this transaction, or None."""
    token, xact = transaction(key_id)
    for stale in [t for t, entry in unlocked.items() if entry[2] != xact]:
        del unlocked[stale]
    if token.startswith(TOKEN_PREFIX):
        entry = unlocked.get(token[len(TOKEN_PREFIX):])
        if entry is not None and entry[0] == key_id and entry[2] == xact:
            return entry[1]
    return None


def keep(key_id, key):
    _, xact = transaction(key_id)
    token = secrets.token_hex(16)
    unlocked[token] = (key_id, key, xact)
    plpy.execute(plans.set_token, [key_id, TOKEN_PREFIX + token])


def drop_previous(key_id, wrapped):
    # whether the kept earlier wrapped form was dropped (not when the row is
    # locked or the transaction cannot write: a later unlock drops it)
    try:
        with plpy.subtransaction():
            return len(plpy.execute(plans.drop_previous, [key_id, wrapped])) > 0
    except plpy.SPIError:
        return False


def key_check(key):
    # vcf._key_check, computed here so that the key never enters SQL
    return hmac.new(key, b"vcf-pg-loader key check v1", hashlib.sha256).digest()[:16]


def canonical(context):
    # the encryption context as the control plane binds it (keys/provider.py)
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode("utf-8")


def private_file(path, what, size):
    """Read a file only the server's OS user can read: absolute path, regular
    file, owned by os.geteuid(), no group or other permission bits."""
    if not path.startswith("/"):
        raise Refused("VP008", f"{what} must be an absolute path, not {path!r}",
                      "Set it with ALTER SYSTEM (docs/security.md).")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise Refused("VP008", f"cannot open {what} {path}: {exc.strerror}",
                      "The server's OS user must own the file and be able to reach it.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused("VP008", f"{what} {path} is not a regular file", None)
        if st.st_uid != os.geteuid():
            raise Refused("VP008",
                          f"{what} {path} is owned by uid {st.st_uid}, not by the server's OS user "
                          f"(uid {os.geteuid()})",
                          f"chown it to the user the server runs as, then chmod 600 {path}.")
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise Refused("VP008",
                          f"{what} {path} is accessible by other users "
                          f"(mode {stat.S_IMODE(st.st_mode):04o})",
                          f"chmod 600 {path}")
        return os.read(fd, size + 1) if size else b""
    finally:
        os.close(fd)


# -- provider: local (a 32-byte master key file; the format of keys/local.py)

def local_master(cfg):
    path = cfg.get("server_master_key_file", "")
    if not path:
        raise Refused("VP008", "vcf_pg_loader.server_master_key_file is not set",
                      "ALTER SYSTEM SET vcf_pg_loader.server_master_key_file = '/path/to/master.key'.")
    master = private_file(path, "the server's master key file", MASTER_KEY_BYTES)
    if len(master) != MASTER_KEY_BYTES:
        raise Refused("VP008", f"the server's master key file {path} does not hold a 32-byte key",
                      "Copy the master key file that vcfctl created (vcfctl keys init).")
    kek_id = "local:" + hmac.new(master, b"vcf-pg-loader kek id", hashlib.sha256).hexdigest()[:16]
    return master, kek_id


def aesgcm(master):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(master)


def local_unwrap(cfg, key_id, row, context):
    from cryptography.exceptions import InvalidTag
    master, kek_id = local_master(cfg)
    if row["kek_id"] != kek_id:
        raise Refused("VP003",
                      f"data key {key_id} was wrapped by master key {row['kek_id']}; "
                      f"the server's master key file is {kek_id}",
                      "Point vcf_pg_loader.server_master_key_file at the master key that wrapped it.")
    blob = row["wrapped_key"]
    if len(blob) != 1 + 12 + KEY_BYTES + 16 or blob[:1] != WRAP_VERSION:
        raise Refused("VP003", f"the wrapped form of data key {key_id} is malformed",
                      "The key row was changed; restore vcf.data_keys from a backup.")
    try:
        return aesgcm(master).decrypt(blob[1:13], blob[13:], canonical(context))
    except InvalidTag:
        raise Refused("VP003",
                      f"data key {key_id} does not unwrap under the server's master key "
                      "and its stored encryption context",
                      "The key row was changed; restore vcf.data_keys from a backup.") from None


def local_generate(cfg, key_id, context):
    master, kek_id = local_master(cfg)
    key = os.urandom(KEY_BYTES)
    nonce = os.urandom(12)
    return key, kek_id, WRAP_VERSION + nonce + aesgcm(master).encrypt(nonce, key, canonical(context))


# -- provider: aws-kms (boto3 in the server's Python)

def kms_client(cfg):
    region = cfg.get("aws_region") or None
    endpoint = cfg.get("aws_endpoint_url") or None
    credentials = cfg.get("aws_shared_credentials_file") or None
    if credentials:
        private_file(credentials, "the AWS shared credentials file", 0)
    client = kms_clients.get((region, endpoint, credentials))
    if client is None:
        try:
            import boto3
            import botocore.session
            from botocore.config import Config
        except ImportError:
            raise Refused("VP008", "boto3 is not importable by the server's Python",
                          "Install it for the server (Debian: apt-get install python3-boto3).") from None
        core = botocore.session.get_session()
        if credentials:
            core.set_config_variable("credentials_file", credentials)
        client = boto3.session.Session(botocore_session=core).client(
            "kms", region_name=region, endpoint_url=endpoint,
            config=Config(retries={"mode": "standard", "max_attempts": 3},
                          connect_timeout=5, read_timeout=20))
        kms_clients[(region, endpoint, credentials)] = client
    return client


def kms_call(cfg, key_id, operation, **params):
    # one KMS request (botocore retries); errors name the KMS error code only
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        response = getattr(kms_client(cfg), operation)(**params)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        if code in ("InvalidCiphertextException", "IncorrectKeyException"):
            raise Refused("VP003", f"KMS refused to unwrap data key {key_id} ({code})",
                          "Its wrapped form, KEK id or encryption context was changed;"
                          " restore vcf.data_keys from a backup.") from None
        raise Refused("VP008", f"KMS {operation} for data key {key_id} failed: {code}",
                      "Check the server's AWS credentials, region and endpoint, and the key policy.") from None
    except BotoCoreError as exc:
        raise Refused("VP008", f"KMS {operation} for data key {key_id} failed: {type(exc).__name__}",
                      "Check vcf_pg_loader.aws_region, aws_endpoint_url and aws_shared_credentials_file.") from None
    key = bytes(response.pop("Plaintext", b""))
    if len(key) != KEY_BYTES:
        raise Refused("VP003", f"KMS returned no 64-byte key for data key {key_id}",
                      "The key row was changed; restore vcf.data_keys from a backup.")
    return key, response


def kms_unwrap(cfg, key_id, row, context):
    return kms_call(cfg, key_id, "decrypt", CiphertextBlob=row["wrapped_key"],
                    EncryptionContext=context, KeyId=row["kek_id"])[0]


def kms_generate(cfg, key_id, context):
    kek = cfg.get("aws_kms_key_id", "")
    if not kek:
        active = plpy.execute(plans.active_kms_kek)
        kek = active[0]["kek_id"] if active else ""
    if not kek:
        raise Refused("VP008", "vcf_pg_loader.aws_kms_key_id is not set",
                      "ALTER SYSTEM SET vcf_pg_loader.aws_kms_key_id = '<key ARN or alias>'.")
    key, response = kms_call(cfg, key_id, "generate_data_key", KeyId=kek,
                             NumberOfBytes=KEY_BYTES, EncryptionContext=context)
    return key, str(response["KeyId"]), bytes(response["CiphertextBlob"])


PROVIDERS = {"local": (local_unwrap, local_generate), "aws-kms": (kms_unwrap, kms_generate)}


def provider_of(cfg):
    name = cfg.get("server_key_provider", "")
    if not name:
        raise Refused("VP008", "server-side key unwrapping is not configured", NOT_CONFIGURED_HINT)
    if name not in PROVIDERS:
        raise Refused("VP008", f"vcf_pg_loader.server_key_provider is {name!r}: "
                      "not 'local' or 'aws-kms'", NOT_CONFIGURED_HINT)
    return name


def refuse(action, key_id, details, refusal):
    # audited in an autonomous transaction; raised by the PL/pgSQL caller
    # (vcf._server_unlock, vcf._server_generate_key), whose message carries
    # no "plpy.Error:" prefix
    details = dict(details, sqlstate=refusal.sqlstate, refused=str(refusal))
    plpy.execute(plans.audit_try, [action, key_id, False, json.dumps(details)])
    return (refusal.sqlstate, str(refusal), refusal.hint)


# -- the operations: each returns its result and then (sqlstate, message,
# hint), all None unless refused

def unlock(key_id):
    """Unwrap a data key in the server for this transaction: (unlocked, ...).
    Not unlocked and not refused when server-side unwrapping is not
    configured. Refusals: VP002 (unknown or destroyed key), VP003 (does not
    unwrap, or fails its check value), VP008 (misconfigured, unsafe files,
    provider errors)."""
    if key_id is not None and unlocked_key(key_id) is not None:
        return (True, None, None, None)
    cfg = config()
    if not cfg.get("server_key_provider"):
        return (False, None, None, None)
    details = {"via": "server", "provider": cfg["server_key_provider"]}
    try:
        provider = provider_of(cfg)
        row = plpy.execute(plans.key_row, [key_id]) if key_id is not None else []
        if not row or row[0]["state"] == "destroyed":
            raise Refused("VP002", f"data key {key_id} does not exist or has been destroyed",
                          'List keys with "vcfctl keys list"; a destroyed key cannot be used again.')
        row = row[0]
        details["purpose"] = row["purpose"]
        if row["provider"] != provider:
            raise Refused("VP008", f"data key {key_id} was wrapped by provider {row['provider']!r};"
                          f" the server unwraps {provider!r} keys",
                          "Unlock it with vcf.unlock(key_id, key) from the control plane.")
        key = PROVIDERS[provider][0](cfg, key_id, row, json.loads(row["context"]))
        if len(key) != KEY_BYTES or not hmac.compare_digest(key_check(key), row["key_check"]):
            raise Refused("VP003", f"wrong key material for data key {key_id}",
                          "The key row was changed; restore vcf.data_keys from a backup.")
    except Refused as refusal:
        return (False,) + refuse("unlock", key_id, details, refusal)
    if row["has_previous"]:
        # the current wrapped form is proven now: what a rewrap kept for undo can go
        details["previous_wrapping"] = (
            "dropped" if drop_previous(key_id, row["wrapped_key"]) else "kept")
    keep(key_id, key)
    plpy.execute(plans.audit, ["unlock", key_id, True, json.dumps(details)])
    return (True, None, None, None)


def generate(key_id, context):
    """A fresh data key from the server's provider, unlocked in this
    transaction: (provider, kek_id, wrapped key, key check value, ...).
    Refusal: VP008 (not configured, provider errors)."""
    cfg = config()
    details = {"via": "server", "provider": cfg.get("server_key_provider") or None}
    try:
        provider = provider_of(cfg)
        key, kek_id, wrapped = PROVIDERS[provider][1](cfg, key_id, context)
    except Refused as refusal:
        return (None, None, None, None) + refuse("key_generate", key_id, details, refusal)
    keep(key_id, key)
    return (provider, kek_id, wrapped, key_check(key), None, None, None)


def verify(key_id, provider, kek_id, wrapped):
    """Whether a proposed wrapped form (provider, kek_id, wrapped) unwraps in
    the server, under the key's stored encryption context, to the key the
    stored check value names: (verified, sqlstate, message, hint) for
    vcf.rewrap_key. verified is None, and nothing is tried, when the server
    does not unwrap this provider's keys. The unwrapped key is compared and
    dropped: never kept, returned or logged. Audits nothing (the caller does)."""
    cfg = config()
    if cfg.get("server_key_provider", "") not in PROVIDERS or cfg["server_key_provider"] != provider:
        return (None, None, None, None)
    try:
        row = plpy.execute(plans.key_row, [key_id])
        if not row or row[0]["state"] == "destroyed":
            raise Refused("VP002", f"data key {key_id} does not exist or has been destroyed", None)
        proposed = {"kek_id": kek_id, "wrapped_key": wrapped}
        key = PROVIDERS[provider][0](cfg, key_id, proposed, json.loads(row[0]["context"]))
        if len(key) != KEY_BYTES or not hmac.compare_digest(key_check(key), row[0]["key_check"]):
            raise Refused("VP003", f"it unwraps to another key than data key {key_id}"
                          " (check value differs)", None)
    except Refused as refusal:
        return (False, refusal.sqlstate, str(refusal), refusal.hint)
    finally:
        key = None
    return (True, None, None, None)


GD["vcf_pg_loader.server_keys"] = SimpleNamespace(
    unlock=unlock, unlocked_key=unlocked_key, generate=generate, verify=verify)
$$;
