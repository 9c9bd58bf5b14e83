"""Drive the CrossGuard policy pack over the analyzer gRPC protocol, as the Pulumi engine does.

The pack runs as its own process (`python -u policies/__main__.py`), prints its port, and is asked
for its info, configured with the stack's policy config, then given every resource (Analyze) and
the whole stack (AnalyzeStack). The gate therefore runs exactly the code `pulumi preview
--policy-pack policies` runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.adapter import REPORT_WAIVED_ENV

from .render import Rendering, RenderedResource

PACK_DIR = Path(__file__).resolve().parent.parent / "policies"
ENFORCEMENT = {value: name.lower() for name, value in analyzer_pb2.EnforcementLevel.items()}


class PolicyPackError(Exception):
    pass


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    urn: str
    message: str
    enforcement: str


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    title: str
    description: str
    enforcement: str
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


class PolicyPackProcess:
    """The pack as a running analyzer plugin. Use as a context manager."""

    def __init__(self, pack_dir: Path = PACK_DIR, report_waived: bool = True):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if report_waived:
            env[REPORT_WAIVED_ENV] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(pack_dir / "__main__.py")], cwd=pack_dir, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.process.wait(timeout=30)
            reason = self.process.stderr.read().strip()
            self.close()
            raise PolicyPackError(f"the policy pack did not start:\n{reason[-4000:]}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def __enter__(self) -> "PolicyPackProcess":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "channel", None):
            self.channel.close()
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()

    def info(self) -> list[PolicyInfo]:
        info = self.stub.GetAnalyzerInfo(empty_pb2.Empty())
        severities = {v: n.lower() for n, v in analyzer_pb2.PolicySeverity.items()}
        return [PolicyInfo(p.name, p.displayName, p.description, ENFORCEMENT[p.enforcementLevel],
                           p.remediation_steps, tuple(p.tags), severities.get(p.severity, "unspecified"))
                for p in info.policies]

    def configure(self, config: Mapping[str, Mapping[str, Any]], stack: str) -> None:
        """Send the stack's pack config. Like the engine, a policy whose config names no
        enforcement level keeps the level the pack declares for it."""
        declared = {p.name: p.enforcement for p in self.info()}
        unknown = sorted(set(config) - set(declared) - {"all"})
        if unknown:
            raise PolicyPackError(f"policy pack config for {stack} names unknown policies {unknown}")
        policy_config = {}
        for name, values in config.items():
            values = dict(values)
            level = values.pop("enforcementLevel", None) or declared.get(name, "advisory")
            policy_config[name] = analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.EnforcementLevel.Value(level.upper()),
                properties=_struct(values),
            )
        self.stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=policy_config))
        self.stub.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack, project="continuity"))

    def analyze(self, rendering: Rendering) -> list[Diagnostic]:
        diagnostics = []
        resources = [r for r in rendering.resources if r.custom]
        for resource in resources:
            response = self.stub.Analyze(analyzer_pb2.AnalyzeRequest(
                type=resource.type, properties=_struct(resource.inputs), urn=resource.urn, name=resource.name,
                options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent),
            ))
            diagnostics += [self._diagnostic(d, resource.urn) for d in response.diagnostics]
        response = self.stub.AnalyzeStack(
            analyzer_pb2.AnalyzeStackRequest(resources=[_analyzer_resource(r) for r in resources]))
        diagnostics += [self._diagnostic(d, "") for d in response.diagnostics]
        return diagnostics

    @staticmethod
    def _diagnostic(d, default_urn: str) -> Diagnostic:
        # pulumi_policy prefixes each violation with the policy's description; keep the finding itself.
        message = d.message
        if d.description and message.startswith(d.description):
            message = message[len(d.description):].lstrip("\n") or message
        return Diagnostic(d.policyName, d.urn or default_urn, message, ENFORCEMENT[d.enforcementLevel])


def load_pack_config(stack: str, pack_dir: Path = PACK_DIR) -> dict[str, dict[str, Any]]:
    """The same file deploy pipelines pass with --policy-pack-config."""
    path = pack_dir / "config" / f"{stack}.json"
    if not path.exists():
        raise PolicyPackError(f"{path}: no policy pack config for stack {stack}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PolicyPackError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
