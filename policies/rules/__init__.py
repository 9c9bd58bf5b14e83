"""The continuity rules, grouped by concern; importing this package registers them all."""

from . import (  # noqa: F401
    access,
    continuity,
    deployability,
    encryption,
    isolation,
    network,
    observability,
    resilience,
    retention,
    sla,
    tagging,
)
from .registry import REGISTRY, Rule, evaluate  # noqa: F401
