"""Azure's HTTP API, offline: an azure-core transport that answers scripted responses and keeps
every request, so tests see exactly what Microsoft's SDKs send (method, URL, api-version, body).

The transport is azure-core's own extension point (`HttpTransport`, passed as `transport=` to any
client); responses are azure-core's `RestRequestsTransportResponse`, the class its requests-based
transport returns. Response bodies come from the REST specs' examples (tests/fixtures/azure).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._requests_basic import RestRequestsTransportResponse

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "azure"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


class FakeCredential:
    """A TokenCredential that never leaves the machine."""

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken("offline-token", int(time.time()) + 3600)


@dataclass
class Sent:
    method: str
    url: str
    body: Any | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def api_version(self) -> str | None:
        return parse_qs(urlsplit(self.url).query).get("api-version", [None])[0]


Answer = Callable[[Sent], tuple[int, dict[str, str], Any | None]]


def answer(status: int, headers: dict[str, str] | None = None, body: Any | None = None) -> Answer:
    return lambda _sent: (status, headers or {}, body)


def _body(content: Any) -> Any:
    """A request's JSON body, or its bytes when it is not JSON (blob uploads), or None."""
    if not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, TypeError):
        return content


class ScriptedAzure(HttpTransport):
    """Answers each request with the next scripted answer; records what was sent; never sleeps."""

    def __init__(self, script: list[Answer], real_sleep: float = 0.0):
        self.script = list(script)
        self.sent: list[Sent] = []
        self.slept: list[float] = []
        # Seconds each polling wait really takes: long enough for a caller to see an operation
        # still running (azure-core polls in a thread of its own).
        self.real_sleep = real_sleep

    def send(self, request, **kwargs):
        body = _body(request.content)
        sent = Sent(request.method, request.url, body, dict(request.headers))
        self.sent.append(sent)
        if not self.script:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        status, headers, payload = self.script.pop(0)(sent)
        # Bytes go out as they are (blob contents, the Blob service's XML); anything else as JSON.
        raw_bytes = isinstance(payload, bytes)
        content = payload if raw_bytes else b"" if payload is None else json.dumps(payload).encode()
        raw = requests.Response()
        raw.status_code, raw.reason, raw.url = status, HTTPStatus(status).phrase, request.url
        raw.headers = requests.structures.CaseInsensitiveDict(
            {**({"Content-Type": "application/json"} if content and not raw_bytes else {}), **headers}
        )
        raw.raw = io.BytesIO(content)
        response = RestRequestsTransportResponse(request=request, internal_response=raw)
        if not kwargs.get("stream", False):
            response.read()
        return response

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        self.close()

    def sleep(self, duration) -> None:
        """Polling waits cost nothing offline (or `real_sleep`); how long each would have been is kept."""
        self.slept.append(duration)
        if self.real_sleep:
            time.sleep(self.real_sleep)
