"""The continuity rules, grouped by concern; importing this package registers them all."""

from . import access, continuity, deployability, encryption, observability, resilience, retention, tagging  # noqa: F401
from .registry import REGISTRY, Rule, evaluate  # noqa: F401
