"""schemathesis over the whole OpenAPI document, as every role that calls the
API, against the demo world on a real server: no request may end in a server
error, and every answer must be one the document describes (status code,
content type, body schema), for valid input and for input the document
rules out. The number of generated examples is bounded so the
suite stays within CI's time; raise MARKET_FUZZ_EXAMPLES to dig deeper."""

import os

import pytest
import requests
import schemathesis

# Imported now, at collection, not lazily inside the first test: on Python 3.11
# a RecursionError caught earlier in the run can leave the parser's depth
# counter off, and pytest's assertion rewriting of this module then failed with
# "AST constructor recursion depth mismatch" (CPython gh-106905).
import schemathesis.specs.openapi.schemas
from hypothesis import HealthCheck, given, settings, strategies
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.demo_server import DemoServer

ROLES = [
    "citizen",
    "proxy",
    "case_worker",
    "kitchen_token",
    "provider_admin",
    "municipal_admin",
    "auditor",
]
EXAMPLES = int(os.environ.get("MARKET_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.fuzz


@pytest.fixture(scope="session")
def api_schema(demo_server: DemoServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{demo_server.url}/openapi.json")


def _fuzz_operation(
    operation: schemathesis.APIOperation, caller_headers: dict[str, str], http: requests.Session
) -> None:
    @given(
        case=strategies.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
    )
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        headers = dict(case.headers or {})
        headers.update(caller_headers)
        case.call_and_validate(session=http, headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_as_every_role(
    role: str, api_schema: schemathesis.BaseSchema, demo_server: DemoServer
) -> None:
    caller = demo_server.callers[role]
    http = requests.Session()
    http.trust_env = False  # loopback only, never a proxy from the environment
    for name, value in caller.cookies.items():
        http.cookies.set(name, value)
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            _fuzz_operation(operation, caller.headers, http)
        except (Exception, BaseExceptionGroup) as exc:  # report every failing operation
            failures.append(f"{operation.verbose_name}: {str(exc)[:1500]}")
    assert operations > 50
    assert not failures, f"{len(failures)} of {operations} operations failed as {role}:\n" + (
        "\n\n".join(failures)
    )
