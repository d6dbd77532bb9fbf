"""Schemathesis fuzzes every operation of /api/v1/openapi.json against the app over real HTTP.

Each operation gets a bounded number of generated requests, valid and invalid ones; every answer
must match the document: a documented status code, JSON where JSON is promised, a body valid
against its schema, valid data accepted, invalid data rejected, auth enforced, and never a 500.
The app runs in waitress over a real SQLite mirror (the standard test documents), with a token.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from schemathesis import Case

from informer_mirror.api import ApiServer, create_app
from informer_mirror.api.openapi import openapi_document
from informer_mirror.backends.sqlite import SqliteBackend
from informer_mirror.metrics import MirrorMetrics
from informer_mirror.registry import build_registry
from informer_mirror.settings import ApiSettings, Settings
from tests.api.fakes import FakeStatus, populate

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 10
"""Generated requests per operation and mode: about 80 operations, a couple of thousand requests."""

REGISTRY = build_registry(Settings())
DOCUMENT = openapi_document(REGISTRY, token_required=True)

# The document is loaded as data (no app at import time); the server's URL is set when the
# module's server starts. test_the_server_serves_exactly_this_document ties the two together.
# (schemathesis' lazy ``from_fixture`` loader does not work with pytest 9.)
schema = schemathesis.openapi.from_dict(DOCUMENT)

# labelSelector's "label-selector" format: a string schema cannot express the grammar, so valid
# ("positive") examples come from this strategy; invalid ones are still generated from the rest
# of its schema (control characters, wrong types, too long).
_KEY = st.sampled_from(["app", "tier", "example.com/team"]) | st.from_regex(
    r"\A[a-z][a-z0-9]{0,6}\Z"
)
_VALUE = st.sampled_from(["web", "db", "front"]) | st.from_regex(r"\A[a-z0-9]{1,6}\Z")
_REQUIREMENT = st.one_of(
    st.tuples(_KEY, st.sampled_from(["=", "==", "!="]), _VALUE).map("".join),
    st.tuples(
        _KEY, st.sampled_from([" in ", " notin "]), st.lists(_VALUE, min_size=1, max_size=3)
    ).map(lambda t: f"{t[0]}{t[1]}({','.join(t[2])})"),
    _KEY,
    _KEY.map(lambda k: f"!{k}"),
    st.tuples(_KEY, st.sampled_from([">", "<"]), st.integers(0, 99)).map(
        lambda t: f"{t[0]}{t[1]}{t[2]}"
    ),
)
schemathesis.openapi.format(
    "label-selector", st.lists(_REQUIREMENT, min_size=1, max_size=3).map(",".join)
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The app over the standard test mirror, served by waitress on a free port."""
    backend = SqliteBackend(tmp_path_factory.mktemp("fuzz") / "mirror.db", cluster=REGISTRY.cluster)
    populate(backend, REGISTRY)
    app = create_app(
        registry=REGISTRY,
        backend=backend,
        status=FakeStatus.all_synced(REGISTRY),
        metrics=MirrorMetrics(CollectorRegistry()),
        settings=ApiSettings(token=TOKEN),
    )
    server = ApiServer(app, port=0, threads=4)
    server.start()
    schema.config.update(base_url=server.url)
    try:
        yield server
    finally:
        server.stop()
        backend.close()


def test_the_server_serves_exactly_this_document(server: ApiServer) -> None:
    import requests  # noqa: PLC0415 - schemathesis' own HTTP client, imported where used

    response = requests.get(f"{server.url}/api/v1/openapi.json", headers=AUTH, timeout=10)
    assert response.status_code == 200
    assert response.json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_openapi_document_says(
    case: Case, server: ApiServer
) -> None:
    case.call_and_validate(base_url=server.url, headers=AUTH)
