"""Schemathesis hooks for Aion's contract run (tools/ci/schemathesis.sh).

Idempotency-Key: a client must send a fresh key with every distinct request; reusing one with
another body is answered 422 by design (draft-ietf-httpapi-idempotency-key-header), and reusing
it with the same body replays the first answer. Schemathesis draws header values from a small
pool and reuses them across requests, which is a client bug, not a server one. This hook gives
every well-formed key a fresh value, as a real client would; keys that break the documented
pattern are left alone so that negative testing still sees them refused.
"""

import re
import uuid

import schemathesis

WELL_FORMED_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers or {}
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and WELL_FORMED_KEY.fullmatch(value):
            headers[name] = str(uuid.uuid4())
