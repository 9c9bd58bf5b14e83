"""The Pulumi program: settings first, then one RegionalPlatform, then the stack outputs."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi_azure_native import authorization

from .existing import ExistingStateError
from .platform import AzureContext, RegionalPlatform, observe
from .settings import Settings, SettingsError, load_settings
from .tags import stack_tags, tagging_transform


def stack_config() -> tuple[dict[str, str], frozenset[str]]:
    """All config the engine handed to this program, and which keys are secrets.

    The Python SDK has no public way to list config keys, and unknown keys must be rejected, so the
    runtime's own config map is read (the same map `pulumi.Config` reads).
    """
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secrets = {key for key in values if runtime_config.is_config_secret(key)}
    secrets |= set(runtime_config.get_config_secret_keys_env())
    return values, frozenset(secrets)


def load() -> Settings:
    values, secret_keys = stack_config()
    try:
        return load_settings(values, secret_keys)
    except SettingsError as error:
        # RunError prints the message alone, without a Python traceback.
        raise pulumi.RunError(f"stack '{pulumi.get_stack()}': {error}") from None


def main() -> None:
    settings = load()
    pulumi.runtime.register_resource_transform(tagging_transform(stack_tags(settings)))
    client = authorization.get_client_config()
    azure = AzureContext(subscription_id=client.subscription_id, tenant_id=client.tenant_id)
    try:
        live = observe(settings, azure)
    except ExistingStateError as error:
        # Read before any resource is declared: a refusal changes nothing.
        raise pulumi.RunError(f"stack '{pulumi.get_stack()}': {error}") from None
    platform = RegionalPlatform("platform", settings=settings, azure=azure, live=live)
    for name, value in platform.exports().items():
        pulumi.export(name, value)
