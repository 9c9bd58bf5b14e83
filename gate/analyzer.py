"""Drive the CrossGuard policy pack over the analyzer gRPC protocol, as the Pulumi engine does.

The pack runs as its own process (`python -u policies/__main__.py`), prints its port, and is asked
for its info, configured with the stack's policy config, then given each resource (Analyze) and
the whole stack (AnalyzeStack). The gate therefore runs exactly the code `pulumi preview
--policy-pack policies` runs. (It leaves out the Analyze calls of resources whose type no
per-resource rule checks, which can only answer nothing: see `checked_types`.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from cli import children
from cli.exits import InternalError, UsageError
from cli.files import load_json
from policies.adapter import DEFAULT_RULE_TIMEOUT, REPORT_WAIVED_ENV, RULE_TIMEOUT_ENV
from policies.rules.registry import REGISTRY

from .findings import Level
from .render import RenderedResource, Rendering

if TYPE_CHECKING:
    from typing_extensions import TypeIs

PACK_DIR = Path(__file__).resolve().parent.parent / "policies"
# The protocol's enum names are Pulumi's levels, upper-case.
ENFORCEMENT = {value: cast(Level, name.lower()) for name, value in analyzer_pb2.EnforcementLevel.items()}
# Pulumi's levels, weakest first; "remediate" enforces like "mandatory" for validation policies.
LEVEL_RANK: dict[Level, int] = {"disabled": 0, "advisory": 1, "mandatory": 2, "remediate": 2}
# Extra time the gate gives a pack call beyond the pack's own per-rule limit before it gives up.
CALL_GRACE_SECONDS = 10.0


def is_level(value: object) -> TypeIs[Level]:
    """Whether a pack config's value is one of Pulumi's enforcement levels."""
    return isinstance(value, str) and value in LEVEL_RANK


class PolicyPackError(UsageError):
    """The pack config cannot be used (exit 2)."""


class PackFailed(InternalError):
    """The pack did not start, did not answer in time, or a rule failed inside it (exit 4)."""


@dataclass(frozen=True)
class PackConfig:
    """A stack's pack config, understood as the engine understands it.

    Pulumi's forms: `"all": LEVEL`, `"RULE": LEVEL`, `"RULE": {"enforcementLevel": LEVEL, ...}`
    (the `all` key may also be such a mapping). A rule's level is its own, else `all`'s, else the
    level the pack declares.
    """

    path: Path
    all_level: Level | None
    levels: Mapping[str, Level]
    properties: Mapping[str, Mapping[str, Any]]

    def get(self, rule_id: str, default: Any = None) -> Any:
        """The rule's properties (thresholds and stack facts), as other code reads a config dict."""
        return self.properties.get(rule_id, default)

    def __getitem__(self, rule_id: str) -> Mapping[str, Any]:
        return self.properties[rule_id]

    def effective_levels(self, declared: Mapping[str, Level]) -> dict[str, Level]:
        return {rule: self.levels.get(rule) or self.all_level or level for rule, level in declared.items()}

    def lowered(self, declared: Mapping[str, Level]) -> dict[str, Level]:
        """Rules whose configured level is weaker than the level the pack declares: rule -> level."""
        effective = self.effective_levels(declared)
        return {
            rule: effective[rule]
            for rule, level in declared.items()
            if LEVEL_RANK[effective[rule]] < LEVEL_RANK[level]
        }


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    urn: str
    message: str
    enforcement: Level


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    title: str
    description: str
    enforcement: Level
    remediation: str
    tags: tuple[str, ...]
    severity: str


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(data), struct)
    return struct


def _analyzer_resource(resource: RenderedResource) -> analyzer_pb2.AnalyzerResource:
    return analyzer_pb2.AnalyzerResource(
        type=resource.type,
        properties=_struct(resource.inputs),  # secrets stay marked, as the engine sends them
        urn=resource.urn,
        name=resource.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent),
        parent=resource.parent,
        dependencies=resource.dependencies,
        propertyDependencies={
            key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
            for key, urns in resource.property_dependencies.items()
        },
    )


def checked_types(pack_dir: Path) -> frozenset[str] | None:
    """The resource types the project's own pack has per-resource rules for (each such rule names
    its types; it imports the same rules as this process), or None, every type, for another pack."""
    if Path(pack_dir).resolve() != PACK_DIR.resolve():
        return None
    return frozenset(token for rule in REGISTRY.values() for token in rule.resource_types)


class PolicyPackProcess:
    """The pack as a running analyzer plugin, dying with this process. Use as a context manager."""

    def __init__(
        self,
        pack_dir: Path = PACK_DIR,
        report_waived: bool = True,
        rule_timeout: float = DEFAULT_RULE_TIMEOUT,
    ):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", RULE_TIMEOUT_ENV: str(rule_timeout)}
        if report_waived:
            env[REPORT_WAIVED_ENV] = "1"
        self.deadline = rule_timeout + CALL_GRACE_SECONDS
        self.checked_types = checked_types(pack_dir)
        self.process = children.popen(
            [sys.executable, "-u", str(pack_dir / "__main__.py")],
            cwd=pack_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Connected on first use: the pack starts while its caller does other work (rendering).
        self.stub: analyzer_pb2_grpc.AnalyzerStub | None = None

    def _connect(self) -> analyzer_pb2_grpc.AnalyzerStub:
        """Wait for the pack to print its port, then connect; the reason if it never does."""
        if self.stub is not None:
            return self.stub
        stdout, stderr = self.process.stdout, self.process.stderr
        assert stdout is not None and stderr is not None  # both are pipes
        port = stdout.readline().strip()
        if not port.isdigit():
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            reason = stderr.read().strip() if self.process.poll() is not None else ""
            self.close()
            # An invalid waiver file stops the pack as it loads it: that is bad input, not a failure.
            failure = PolicyPackError if "invalid waivers" in reason else PackFailed
            raise failure(f"the policy pack did not start: {_last_line(reason) or 'no port printed'}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self.stub

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "channel", None):
            self.channel.close()
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:  # pipes: never None
                stream.close()

    def _call(self, method: str, request: Any, what: str) -> Any:
        """One call to the pack, with a deadline; failures name what was being analysed."""
        try:
            return getattr(self._connect(), method)(request, timeout=self.deadline)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise PackFailed(
                    f"the policy pack did not answer within {self.deadline:g} s ({what})"
                ) from None
            details = (error.details() or "").removeprefix("Exception calling application: ")
            raise PackFailed(f"the policy pack failed ({what}): {_last_line(details)}") from None

    def info(self) -> list[PolicyInfo]:
        info = self._call("GetAnalyzerInfo", empty_pb2.Empty(), "analyzer info")
        severities = {v: n.lower() for n, v in analyzer_pb2.PolicySeverity.items()}
        return [
            PolicyInfo(
                p.name,
                p.displayName,
                p.description,
                ENFORCEMENT[p.enforcementLevel],
                p.remediation_steps,
                tuple(p.tags),
                severities.get(p.severity, "unspecified"),
            )
            for p in info.policies
        ]

    def configure(self, config: PackConfig, stack: str) -> dict[str, Level]:
        """Send the stack's pack config, as the engine does; returns each rule's effective level."""
        declared = {p.name: p.enforcement for p in self.info()}
        unknown = sorted((set(config.levels) | set(config.properties)) - set(declared))
        if unknown:
            raise PolicyPackError(f"{config.path}: names unknown policies {unknown}")
        levels = config.effective_levels(declared)
        policy_config = {
            name: analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.EnforcementLevel.Value(level.upper()),
                properties=_struct(config.properties.get(name, {})),
            )
            for name, level in levels.items()
        }
        self._call(
            "Configure",
            analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=policy_config),
            f"configure {stack}",
        )
        self._call(
            "ConfigureStack",
            analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack, project="continuity"),
            f"configure {stack}",
        )
        return levels

    def analyze(
        self, rendering: Rendering, only: Collection[str] | None = None, whole_stack: bool = True
    ) -> list[Diagnostic]:
        """Every diagnostic for the stack: each resource's own rules, then the whole-stack rules.

        `only` (URNs) limits the per-resource calls to those resources, for a caller that knows the
        others are unchanged since a clean analysis; the whole-stack rules, when run, see everything.
        `whole_stack=False` leaves them out, for a caller that changed what only per-resource rules read.
        """
        diagnostics = []
        resources = [r for r in rendering.resources if r.custom]
        for resource in resources:
            if only is not None and resource.urn not in only:
                continue
            if self.checked_types is not None and resource.type not in self.checked_types:
                continue  # no per-resource rule checks this type: the pack would answer nothing
            response = self._call(
                "Analyze",
                analyzer_pb2.AnalyzeRequest(
                    type=resource.type,
                    properties=_struct(resource.inputs),
                    urn=resource.urn,
                    name=resource.name,
                    options=analyzer_pb2.AnalyzerResourceOptions(
                        protect=resource.protect, parent=resource.parent
                    ),
                ),
                f"{rendering.stack}: {resource.urn}",
            )
            diagnostics += [self._diagnostic(d, resource.urn) for d in response.diagnostics]
        if not whole_stack:
            return diagnostics
        response = self._call(
            "AnalyzeStack",
            analyzer_pb2.AnalyzeStackRequest(resources=[_analyzer_resource(r) for r in resources]),
            f"{rendering.stack}: the whole stack",
        )
        diagnostics += [self._diagnostic(d, "") for d in response.diagnostics]
        return diagnostics

    @staticmethod
    def _diagnostic(d: analyzer_pb2.AnalyzeDiagnostic, default_urn: str) -> Diagnostic:
        # pulumi_policy prefixes each violation with the policy's description; keep the finding itself.
        message = d.message
        if d.description and message.startswith(d.description):
            message = message[len(d.description) :].lstrip("\n") or message
        return Diagnostic(d.policyName, d.urn or default_urn, message, ENFORCEMENT[d.enforcementLevel])


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def load_pack_config(stack: str, config_dir: Path = PACK_DIR / "config") -> PackConfig:
    """The same file deploy pipelines pass with --policy-pack-config, checked as the engine reads it."""
    path = config_dir / f"{stack}.json"
    if not path.exists():
        raise PolicyPackError(f"{path}: no policy pack config for stack {stack}")
    try:
        document = load_json(path, "policy pack config")
    except UsageError as error:
        raise PolicyPackError(str(error)) from None
    if not isinstance(document, dict):
        raise PolicyPackError(f"{path}: must be a JSON object of policy names")
    all_level: Level | None = None
    levels: dict[str, Level] = {}
    properties: dict[str, dict[str, Any]] = {}
    for name, value in document.items():
        if isinstance(value, str):
            level, props = value, {}
        elif isinstance(value, dict):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
        else:
            raise PolicyPackError(f"{path}: {name} must be an enforcement level or an object, not {value!r}")
        if level is not None and not is_level(level):
            raise PolicyPackError(
                f"{path}: {name}: enforcement level {level!r} is not one of {sorted(LEVEL_RANK)}"
            )
        if name == "all":
            if props:
                raise PolicyPackError(f"{path}: 'all' takes only an enforcement level")
            all_level = level
            continue
        if level is not None:
            levels[name] = level
        properties[name] = props
    return PackConfig(path, all_level, levels, properties)
