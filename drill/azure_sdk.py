"""Microsoft's management SDKs as the drill tools use them: clients pinned to an api-version, with
the ambient Azure login, and long-running operations waited for with progress output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Client = TypeVar("Client")
Result = TypeVar("Result")


def azure_client(
    client_class: Callable[..., Client],
    subscription_id: str,
    api_version: str,
    credential: Any = None,
    **pipeline: Any,
) -> Client:
    """One of Microsoft's management SDK clients, pinned to `api_version`, with the ambient Azure
    login (az login, or OIDC in the workflows). `pipeline` reaches azure-core (tests pass `transport`)."""
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return client_class(credential, subscription_id, api_version=api_version, **pipeline)


def wait_for(poller: Any, what: str, progress: Callable[[str], None], poll_seconds: float) -> Any:
    """The result of a long-running operation, saying every `poll_seconds` how long it has run."""
    waited = 0.0
    while not poller.done():
        poller.wait(poll_seconds)
        waited += poll_seconds
        progress(f"{what}: {poller.status()} after {waited:.0f}s")
    return poller.result()
