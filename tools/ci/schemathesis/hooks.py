"""Schemathesis hooks for Aion's contract run (tools/ci/schemathesis.sh).

Idempotency-Key: a client must send a fresh key with every distinct request; reusing one with
another body is answered 422 by design (draft-ietf-httpapi-idempotency-key-header), and reusing
it with the same body replays the first answer. Schemathesis draws header values from a small
pool and reuses them across requests, which is a client bug, not a server one. This hook gives
every well-formed key a fresh value, as a real client would; keys that break the documented
pattern are left alone so that negative testing still sees them refused.

PromQL: an alert rule's expression is documented as format `promql`, which no JSON Schema can
state; the service checks it with Prometheus's grammar. Valid expressions over Aion's metrics
are drawn for it, so positive cases are positive; negative cases still send arbitrary text. The
same for a log query's format `logql` (Loki's parser decides; the contract run has a stand-in).
"""

import ast
import re
import threading
import uuid

import schemathesis
from hypothesis import strategies as st

WELL_FORMED_KEY = re.compile(r"[\x21-\x7e]{1,255}")

# CPython 3.11's ast.parse is not safe in two threads at once (SystemError "AST constructor recursion depth
# mismatch", a CPython bug): Hypothesis parses sources to describe lambdas, and the run's
# two workers do it together now and then, which failed the run with a Runtime Error. One parse
# at a time; everything else stays parallel.
_ast_parse = ast.parse
_ast_lock = threading.Lock()


def _serialized_parse(*args, **kwargs):
    with _ast_lock:
        return _ast_parse(*args, **kwargs)


ast.parse = _serialized_parse


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers or {}
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and WELL_FORMED_KEY.fullmatch(value):
            headers[name] = str(uuid.uuid4())


_METRICS = st.sampled_from(
    ["aion_http_requests_total", "aion_grpc_server_handled_total", "aion_kafka_consumer_messages_total"]
)
_PROMQL = st.one_of(
    st.builds(lambda m, w, t: f"sum(rate({m}[{w}])) > {t}", _METRICS, st.sampled_from(["1m", "5m", "1h"]), st.integers(0, 1000)),
    st.builds(lambda m, v: f'{m}{{service="gateway"}} == {v}', _METRICS, st.integers(0, 10)),
    st.just("aion_dependency_up == 0"),
)
schemathesis.openapi.format("promql", _PROMQL)
schemathesis.openapi.format(
    "logql",
    st.builds(
        lambda service, text: f'{{service="{service}"}} |= "{text}"',
        st.sampled_from(["gateway", "orchestrator", "observability"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ", max_size=20),
    ),
)

# Uploads (POST /api/v1/pipeline/uploads) declare binary bodies of CSV, JSON-lines and Parquet
# media types. Schemathesis sends any text/* through its text/plain serializer, which spells a
# binary value as empty text (an empty upload, rightly refused): send these as the bytes drawn.
schemathesis.serializer.alias(
    ["text/csv", "application/x-ndjson", "application/jsonl", "application/vnd.apache.parquet"],
    "application/octet-stream",
)
