"""The continuity rules, grouped by concern; importing this package registers them all."""

from . import (access, continuity, deployability, encryption, network, observability, resilience, retention,  # noqa: F401
               tagging)
from .registry import REGISTRY, Rule, evaluate  # noqa: F401
