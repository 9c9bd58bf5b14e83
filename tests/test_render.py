"""The render machinery: warm server, shared cache, claims and early starts. The warm server gives
exactly what a fresh `python -m gate.render_server --once` process gives."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT_DIR

from gate import render
from gate.stack_files import read_stack_config


def _request(stack: str, project_dir: Path = PROJECT_DIR) -> dict:
    """What the gate asks the render server for a committed stack, with nothing rendered before it."""
    return render._request(project_dir, read_stack_config(project_dir, stack), {})


def _by_urn(answer: dict) -> dict:
    """Resources keyed by URN, dependency lists sorted: registration order follows the runtime's
    scheduling and dependencies are sets (their order changes from one process to the next)."""

    def normal(resource: dict) -> dict:
        deps = {key: sorted(urns) for key, urns in resource["property_dependencies"].items()}
        return {**resource, "dependencies": sorted(resource["dependencies"]), "property_dependencies": deps}

    return {"resources": {r["urn"]: normal(r) for r in answer["resources"]}, "outputs": answer["outputs"]}


def test_a_warm_render_equals_a_render_in_a_fresh_process():
    request = _request("prod")
    fresh = subprocess.run(
        [sys.executable, "-m", "gate.render_server", "--once"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        check=True,
    )
    server = render._render_server(PROJECT_DIR)
    first, second = server.render("prod", request), server.render("prod", request)
    # Equal, and nothing leaks from one render into the next.
    assert _by_urn(json.loads(fresh.stdout)) == _by_urn(first) == _by_urn(second)
    assert len(first["resources"]) > 100


def test_a_render_process_that_dies_is_reported_and_the_next_render_still_works(tmp_path, small_project):
    (tmp_path / "__main__.py").write_text("import os\nos._exit(3)\n")
    server = render._render_server(tmp_path)
    assert server is render._render_server(PROJECT_DIR)  # no program modules of its own: the same server
    with pytest.raises(render.InternalError, match="stack prod: the render process failed: exit 3"):
        server.render("prod", {**_request("prod"), "projectDir": str(tmp_path)})
    assert server.alive() and server.render("prod", _request("prod", small_project))["resources"]


def test_a_server_that_stops_is_reported_and_replaced(monkeypatch):
    monkeypatch.setattr(render, "_servers", {})  # leave the session's own server alone
    server = render._render_server(PROJECT_DIR)
    server.stop()
    with pytest.raises(render.InternalError, match="stack prod: the render server stopped"):
        server.render("prod", _request("prod"))
    replacement = render._render_server(PROJECT_DIR)
    assert replacement is not server and replacement.alive()
    replacement.stop()


SMALL_PROGRAM = """\
import pulumi
import pulumi_random

if pulumi.get_stack() == "prod":
    pulumi.export("word", pulumi_random.RandomPassword("word", length=16).id)
else:
    pulumi.export("peer", pulumi.StackReference("organization/continuity/prod").get_output("word"))
"""


def project_with(folder: Path, program: str) -> Path:
    """A project in `folder` with the committed stack files and `program` as its `__main__.py`."""
    folder.mkdir(exist_ok=True)
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dr.yaml"):
        (folder / name).write_text((PROJECT_DIR / name).read_text())
    (folder / "__main__.py").write_text(program)
    return folder


@pytest.fixture
def small_project(tmp_path) -> Path:
    """The project's stack files with a two-line program: prod exports a value, dr (a replica-origin
    stack, so rendered beside prod) reads it. For the tests of the render machinery (cache, claims,
    early starts), which is the same for any program and this one renders in a fraction of the time;
    the tests of what the real program renders stay on it."""
    return project_with(tmp_path / "project", SMALL_PROGRAM)


def test_the_small_program_renders_one_resource_and_dr_reads_prod(small_project):
    prod, dr = render.render_stacks(small_project, ["prod", "dr"])
    assert [r.name for r in prod.resources] == ["word"] and dr.outputs == {"peer": prod.outputs["word"]}


def test_the_shared_render_cache_answers_another_process_and_keys_on_the_request(
    monkeypatch, tmp_path, small_project
):
    monkeypatch.setenv(render.RENDER_CACHE_VARIABLE, str(tmp_path))
    monkeypatch.setattr(render, "_answers", render.collections.OrderedDict())
    request = _request("prod", small_project)
    first = render._render(small_project, "prod", request)
    (filed,) = tmp_path.glob("*.json")
    assert json.loads(filed.read_text()) == first

    # Another process: nothing in memory, and no render server may be asked.
    monkeypatch.setattr(render, "_answers", render.collections.OrderedDict())

    def no_server(_project_dir):
        raise AssertionError("rendered again although the shared cache holds the answer")

    monkeypatch.setattr(render, "_render_server", no_server)
    assert render._render(small_project, "prod", request) == first
    changed = {**request, "values": {**request["values"], "continuity:environment": "other"}}
    with pytest.raises(AssertionError, match="rendered again"):
        render._render(small_project, "prod", changed)


def _asked_twice_at_once(monkeypatch, cache, ask) -> tuple[list[str], list]:
    """Run `ask` in two threads that both miss an empty shared cache before either renders; the
    stacks whose render started (every render starts through `_RenderServer.start`) and the answers."""
    import threading

    monkeypatch.setenv(render.RENDER_CACHE_VARIABLE, str(cache))
    monkeypatch.setattr(render, "_answers", render.collections.OrderedDict())
    started, answers = [], []
    both_asked = threading.Barrier(2)
    first_looks = {"asker-0", "asker-1"}
    original_known, original_start = render._known, render._RenderServer.start

    def known_after_both_asked(project_dir, request):
        answer = original_known(project_dir, request)
        if threading.current_thread().name in first_looks:
            first_looks.discard(threading.current_thread().name)
            both_asked.wait(timeout=30)  # both have missed the cache before either renders
        return answer

    def counted(self, stack, request, peers_later=False):
        started.append(stack)
        return original_start(self, stack, request, peers_later)

    monkeypatch.setattr(render, "_known", known_after_both_asked)
    monkeypatch.setattr(render._RenderServer, "start", counted)
    # Started here, not by an asker: the kernel kills a child when the thread that started it ends
    # (cli/children.py), and the server outlives this test.
    render._render_server(PROJECT_DIR)
    askers = [threading.Thread(target=lambda: answers.append(ask()), name=f"asker-{n}") for n in range(2)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(timeout=120)
    return started, answers


def test_a_render_asked_for_twice_at_once_is_rendered_once(monkeypatch, tmp_path, small_project):
    """Test workers (or gates) asking for the same render together: the second waits for the first's
    answer (render._claimed) instead of rendering it again."""
    request = _request("prod", small_project)
    started, answers = _asked_twice_at_once(
        monkeypatch, tmp_path / "cache", lambda: render._render(small_project, "prod", request)
    )
    assert started == ["prod"] and len(answers) == 2 and answers[0] == answers[1]


def test_two_asking_for_both_stacks_at_once_render_each_once(monkeypatch, tmp_path, small_project):
    """dr starts early, beside prod (render._render_in_order): the first to ask claims that early
    render, and the other waits for its answer rather than starting dr again."""
    started, results = _asked_twice_at_once(
        monkeypatch, tmp_path / "cache", lambda: render.render_stacks(small_project, ["prod", "dr"])
    )
    assert sorted(started) == ["dr", "prod"]
    assert len(results) == 2 and [_by_urn_of(r) for r in results[0]] == [_by_urn_of(r) for r in results[1]]


def _by_urn_of(rendering) -> dict:
    return {r.urn: r.inputs for r in rendering.resources}


def test_without_the_variable_nothing_is_shared(monkeypatch, tmp_path):
    monkeypatch.delenv(render.RENDER_CACHE_VARIABLE, raising=False)
    assert render._shared_file(render.CODE_ROOT, _request("prod")) is None


def test_a_replica_rendered_beside_its_peer_equals_one_rendered_after_it(monkeypatch):
    """With its peer not rendered yet, dr starts at once and reads prod's exports when its program
    asks for them: the same request, so the same answer, as when it renders after prod."""
    monkeypatch.delenv(render.RENDER_CACHE_VARIABLE, raising=False)
    monkeypatch.setattr(render, "_answers", type(render._answers)())
    started = []
    real_start = render._RenderServer.start

    def start(self, stack, request, peers_later=False):
        started.append((stack, peers_later))
        return real_start(self, stack, request, peers_later)

    monkeypatch.setattr(render._RenderServer, "start", start)
    prod, dr = render.render_stacks(PROJECT_DIR, ["prod", "dr"])
    assert started == [("dr", True), ("prod", False)]
    after = render._render_server(PROJECT_DIR).render(
        "dr", {**_request("dr"), "peerOutputs": {render.qualified("prod"): prod.outputs}}
    )
    beside = {"resources": [vars(r) for r in dr.resources], "outputs": dr.outputs}
    assert _by_urn(beside) == _by_urn(after)
    assert any(r.plain_inputs.get("createMode") == "Replica" for r in dr.resources)


def test_a_replica_started_early_ends_when_its_peer_fails(tmp_path, monkeypatch, small_project):
    monkeypatch.delenv(render.RENDER_CACHE_VARIABLE, raising=False)
    failing = project_with(
        tmp_path,
        "import pulumi\n"
        "if pulumi.get_stack() == 'prod':\n"
        "    raise RuntimeError('prod cannot render')\n"
        "pulumi.export('peer', pulumi.StackReference('organization/continuity/prod').outputs)\n",
    )
    with pytest.raises(render.RenderError, match="stack prod: prod cannot render"):
        render.render_stacks(failing, ["prod", "dr"])
    server = render._render_server(PROJECT_DIR)
    pid = server._process.pid
    # dr, which waited for prod's exports, was told there are none and ended: no render is left.
    assert (Path(f"/proc/{pid}/task/{pid}/children").read_text().split()) == []
    assert server.alive() and server.render("prod", _request("prod", small_project))["resources"]


def test_a_replica_waiting_for_its_peers_is_not_held_up_by_a_render_started_after_it(tmp_path, small_project):
    """A render forked later must not keep a copy of the pipe the earlier one's exports come through:
    the earlier one reads them to their end, which would then come only when the later one exits."""
    server = render._render_server(PROJECT_DIR)
    early = server.start("dr", _request("dr", small_project), peers_later=True)
    (tmp_path / "__main__.py").write_text("import time\ntime.sleep(300)\n")
    server.start("prod", {**_request("prod"), "projectDir": str(tmp_path)})  # still running below
    started = time.monotonic()
    server.supply("dr", early, {render.qualified("prod"): {"word": "from prod"}})
    assert server.answer("dr", early)["outputs"] == {"peer": "from prod"}
    assert time.monotonic() - started < 120
    render.stop_render_server(PROJECT_DIR)  # and with it the sleeper


def test_the_render_shortcuts_fail_loudly_for_a_monitor_without_alias_specs(monkeypatch):
    """The forked renders skip collapsing aliases to URNs (runtime.without_engine_only_work), which
    only a monitor without alias specs would read: reaching that path is an error, not a quiet
    rendering without aliases."""
    import importlib

    import pulumi.resource as sdk_resource
    import pulumi.runtime.resource as sdk_runtime

    from gate import runtime

    for module_name, name in runtime.ENGINE_ONLY_WORK:
        module = importlib.import_module(module_name)
        monkeypatch.setattr(module, name, getattr(module, name))  # put back after the test
    runtime.without_engine_only_work()
    assert sdk_resource.collapse_alias_to_urn("an alias", "name", "type", None) is None
    assert sdk_runtime._get_stack_trace() == sdk_runtime.source_pb2.StackTrace()
    with pytest.raises(render.InternalError, match="does not take alias specs"):
        sdk_runtime.all_aliases(["an alias"], "name", "type", None)


def test_the_render_server_makes_the_sdk_type_tables_that_a_render_reads():
    """The server fills the SDK's per-class caches of property types before it forks (preload), so
    renders inherit them: nested input and output types included, as a server's inputs and
    outputs hold them."""
    import pulumi_azure_native.dbforpostgresql as postgres
    from pulumi import _types

    from components.arm import sdk_class
    from gate import runtime

    tables = _types._types_from_py_properties
    tables.cache_clear()
    server = "azure-native:dbforpostgresql:Server"
    assert runtime.warm_type_tables([sdk_class(server), sdk_class(server, "Args")]) > 5
    made = tables.cache_info().misses
    for nested in (postgres.StorageArgs, postgres.HighAvailabilityArgs, postgres.outputs.StorageResponse):
        tables(nested)
    assert tables.cache_info().misses == made  # each one was already made
