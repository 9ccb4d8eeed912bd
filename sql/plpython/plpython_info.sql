CREATE FUNCTION @extschema@.plpython_info()
RETURNS jsonb
LANGUAGE plpython3u STABLE
AS $$
# What the server's own Python offers the companion: its version, and
# whether the libraries that in-server key unwrapping uses are importable.
import json
import sys

def _version(module):
    try:
        return __import__(module).__version__
    except Exception:
        return None

return json.dumps({
    "python": sys.version.split()[0],
    "cryptography": _version("cryptography"),
    "boto3": _version("boto3"),
})
$$;

