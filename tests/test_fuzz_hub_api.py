"""Fuzz the hub's HTTP API from its own OpenAPI schema (schemathesis), bounded for CI.

Every operation gets generated requests twice: unsigned (the hub must refuse
them cleanly) and signed by a real enrolled device (so the fuzzer reaches the
handlers behind authentication; the signed session also carries the case
system's API token). Passing means: zero 5xx responses, every response that the
schema documents conforms to it, and no traceback in the hub's log. The hub is
a real process.

The seed changes on every run (so CI explores new inputs each time) and is
printed; `MOTCUA_FUZZ_SEED=<n>` repeats a run.
"""
from __future__ import annotations

import os
import random

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.delivery.hub_client import HubClient

from .conftest import SITE, HubProcess, run_motcua

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
SEED = int(os.environ.get("MOTCUA_FUZZ_SEED") or random.randrange(2**32))


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory):
    print(f"hub API fuzz seed {SEED} (repeat with MOTCUA_FUZZ_SEED={SEED})")
    server = HubProcess(tmp_path_factory.mktemp("fuzz") / "hub").start()
    yield server
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]
    server.stop()


@pytest.fixture(scope="module")
def hub_schema(fuzz_hub):
    return schemathesis.openapi.from_url(fuzz_hub.url + "/openapi.json")


@pytest.fixture(scope="module")
def device_session(fuzz_hub, tmp_path_factory):
    ctx = AgentContext.open(tmp_path_factory.mktemp("fuzz-agent"))
    enrol(ctx, fuzz_hub.url, fuzz_hub.token(), SITE)
    client = HubClient(fuzz_hub.url, ctx.device_key)
    token = run_motcua("hub", "status-token", "--name", "fuzz-case-system", "--data", str(fuzz_hub.data_dir))
    client.session.headers["Authorization"] = f"Bearer {token.stdout.strip()}"  # reaches the case-system route too
    yield client.session
    client.close()
    ctx.close()


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(schema, call) -> int:
    """Run `call(case)` on generated cases of every operation; return how many operations were fuzzed.

    (schemathesis' pytest plugin is not used: it does not load with this pytest version;
    hypothesis drives the same strategies directly.)
    """
    operations = _operations(schema)
    assert len(operations) >= 8
    for index, operation in enumerate(operations):
        @seed(SEED + index)
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:
            call(case)

        run()
    return len(operations)


def test_unsigned_requests_never_break_the_hub(hub_schema, fuzz_hub, device_session):
    # (device_session: the device enrols before the fuzzer spends the hub's enrolment rate limit)
    def call(case) -> None:
        response = case.call(base_url=fuzz_hub.url, timeout=10)
        case.validate_response(response, checks=CHECKS)

    _fuzz(hub_schema, call)


def test_signed_requests_never_break_the_hub(hub_schema, fuzz_hub, device_session):
    def call(case) -> None:
        response = case.call(base_url=fuzz_hub.url, session=device_session, timeout=10)
        case.validate_response(response, checks=CHECKS)

    _fuzz(hub_schema, call)


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.text(max_size=30),
                     lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
                     max_leaves=25)


@seed(SEED)
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(body=st.one_of(st.binary(max_size=3000), _json.map(lambda v: __import__("json").dumps(v).encode()),
                      st.binary(max_size=400).map(lambda b: b"motcuaE1" + b)))
def test_signed_garbage_commit_bodies_get_4xx(fuzz_hub, device_session, body):
    """Bodies the schema cannot describe (raw JSON, sealed ciphertext): signed garbage is a 4xx, never a 5xx."""
    for content_type in ("application/json", "application/vnd.motcua.sealed"):
        response = device_session.post(fuzz_hub.url + "/v1/commits", data=body, timeout=10,
                                       headers={"Content-Type": content_type})
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
        assert set(response.json()) == {"error", "reason", "reason_vi"}
