"""``imagebridge plugin new``: a scaffolded plugin installs and passes the conformance kit as
it is written, and the kit names the guarantee a broken copy of it breaks.

Each package is scaffolded through the command line, then installed the way ``pip install
-e`` leaves a package (its ``src`` folder on the path and a dist-info with the entry points
read from the package's own pyproject.toml; a real ``pip install -e`` would need the network
to fetch hatchling into its build environment) and certified by running ``pytest`` in the
package's folder, in a fresh interpreter, as an author does.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from imagebridge._cli._app import cli
from imagebridge.testing import SCENARIOS

from .conftest import Invoke

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
KIT_GUARANTEES = {"task_resumed", "task_deadline", "task_poll_rate_limited", "task_poll_failed"}
#: What the scaffold's fakes let the kit record (sync) and what a task dialect adds.
SYNC_RECORDED = {
    *("text_to_image", "size_pixels", "n_multiple", "result_b64", "auth_invalid"),
    *("insufficient_balance", "rate_limited", "server_error", "html_error_page"),
    "content_policy",
}
TASK_RECORDED = SYNC_RECORDED | {
    "task_statuses",
    "task_poll_retried",
    "task_failed",
    "task_unknown",
}
SOURCES = {
    "pyproject.toml",
    "README.md",
    "src/imagebridge_acme/__init__.py",
    "src/imagebridge_acme/adapter.py",
    "src/imagebridge_acme/py.typed",
    "tests/test_acme_conformance.py",
    "tests/fake_server.py",
    "tests/imagebridge-record.toml",
    ".github/workflows/conformance.yml",
}
_RESULT = re.compile(r"::test_(?:scenario|rejection)\[([a-z_0-9]+)-?(sync|async)?\] (\w+)")


def scaffold(folder: Path, *args: str) -> Path:
    """``imagebridge plugin new acme ARGS --dir FOLDER``; the package's folder."""
    result = CliRunner().invoke(cli, ["plugin", "new", "acme", *args, "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    assert "imagebridge_acme" not in sys.modules  # the package is not left imported
    return folder


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A task and a sync plugin named acme, as ``plugin new`` wrote them (do not change)."""
    root = tmp_path_factory.mktemp("scaffolds")
    return {kind: scaffold(root / kind, "--kind", kind) for kind in ("task", "sync")}


def copy_of(package: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(package, tmp_path / "imagebridge-acme"))


def install(package: Path, site: Path) -> dict[str, str]:
    """What ``pip install -e`` leaves, from the package's pyproject.toml; the environment in
    which it is installed."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    points = project["entry-points"]["imagebridge"]
    lines = "".join(f"{name} = {target}\n" for name, target in points.items())
    (info / "entry_points.txt").write_text(f"[imagebridge]\n{lines}")
    (info / "RECORD").write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("IMAGEBRIDGE_LOAD_PLUGINS",)}
    env.pop("ACME_API_KEY", None)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(package / "src")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the package's folder stays as it was written
    return env


def python(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def certify(package: Path, env: dict[str, str]) -> tuple[int, dict[str, set[str]], str]:
    """``pytest`` in the package: its exit status, the cases by outcome, and the output."""
    done = python("-m", "pytest", "-v", "-p", "no:cacheprovider", cwd=package, env=env)
    cases: dict[str, set[str]] = {}
    for scenario, _mode, outcome in _RESULT.findall(done.stdout):
        cases.setdefault(outcome, set()).add(scenario)
    return done.returncode, cases, done.stdout + done.stderr


@pytest.mark.parametrize("kind", ["task", "sync"])
def test_a_new_plugin_passes_the_kit_with_zero_edits(
    kind: str, packages: dict[str, Path], tmp_path: Path
) -> None:
    package = packages[kind]
    code, cases, output = certify(package, install(package, tmp_path / "site"))
    assert code == 0, output
    assert "FAILED" not in cases, output
    recorded = TASK_RECORDED if kind == "task" else SYNC_RECORDED
    assert recorded <= cases["PASSED"], output
    assert "reject_user" in cases["PASSED"]  # a limit the adapter declares
    assert "result_url" in cases["SKIPPED"]  # listed as not applicable in the record file
    if kind == "task":
        assert cases["PASSED"] >= KIT_GUARANTEES, output  # the kit's task guarantees ran
    else:
        assert not cases["PASSED"] & {"task_statuses", *KIT_GUARANTEES}


def test_without_yield_accepted_the_kit_names_the_missing_guarantee(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    package = copy_of(packages["task"], tmp_path)
    adapter = package / "src" / "imagebridge_acme" / "adapter.py"
    source = adapter.read_text()
    assert source.count("        yield Accepted(task)\n") == 1
    adapter.write_text(source.replace("        yield Accepted(task)\n", ""))
    code, cases, output = certify(package, install(package, tmp_path / "site"))
    assert code == 1, output
    assert {"task_statuses", "text_to_image", "task_resumed"} <= cases["FAILED"], output
    assert "task guarantee 'accepted before the first poll' broken" in output
    assert "submit() must yield Accepted(task)" in output  # and what to fix
    assert {"auth_invalid", "task_unknown"} <= cases["PASSED"]  # nothing else is blamed


def start_fake(package: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """``python tests/fake_server.py --port 0``: the process and the base URL it prints."""
    fake = subprocess.Popen(
        [sys.executable, "tests/fake_server.py", "--port", "0"],
        cwd=package,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert fake.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(fake.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=30)
    line = fake.stdout.readline() if ready else ""
    found = re.search(r"http://127\.0\.0\.1:\d+/v1", line)
    if found is None:
        stop(fake)
        pytest.fail(f"the fake did not start: {line!r}")
    return fake, found.group(0)


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        process.kill()
        process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


@pytest.mark.parametrize(
    ("kind", "scenarios"),
    [("sync", ()), ("task", ("task_statuses", "content_policy"))],
)
def test_the_record_file_records_again_from_the_fake_on_the_command_line(
    kind: str, scenarios: tuple[str, ...], packages: dict[str, Path], tmp_path: Path
) -> None:
    # As the README says: the fake in one shell, `record --base-url` in another; the rest
    # (provider, not applicable, the error code hints) comes from the record file. The task
    # kind records two scenarios only: its polls wait as the poll policy says, in real time.
    package = copy_of(packages[kind], tmp_path)
    cassettes = package / "tests" / "cassettes"
    shutil.rmtree(cassettes)
    env = install(package, tmp_path / "site")
    env["ACME_API_KEY"] = "acme-fake-key"
    fake, url = start_fake(package, env)
    try:
        only = [arg for name in scenarios for arg in ("--scenario", name)]
        flags = ["--base-url", url, "--recorded-from", "tests/fake_server.py", *only]
        started = time.monotonic()
        done = python("-m", "imagebridge.testing", "record", *flags, cwd=package, env=env)
        took = time.monotonic() - started
    finally:
        stop(fake)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("config: ")
    wanted = set(scenarios) or SYNC_RECORDED
    written = {path.stem for path in cassettes.glob("*.json")}
    assert wanted <= written, done.stdout
    assert "acme-fake-key" not in "".join(p.read_text() for p in cassettes.glob("*.json"))
    policy = (cassettes / "content_policy.json").read_text()
    assert '"code": "prompt_blocked"' in policy  # the record file's hint, not the default
    assert took < 120
    env.pop("ACME_API_KEY")
    if kind == "sync":
        code, cases, output = certify(package, env)
        assert code == 0, output
        assert wanted <= cases["PASSED"]


@pytest.mark.parametrize("kind", ["task", "sync"])
def test_the_scaffold_is_typed_and_lint_clean(kind: str, packages: dict[str, Path]) -> None:
    package = packages[kind]
    # The package's own view: imagebridge is a third-party import there.
    tools = Path(sys.executable).parent
    ruff, style = str(tools / "ruff"), ["--isolated", "--no-cache", "--line-length", "100"]
    rules = ["--select", "E,F,W,I,UP,B,SIM,RUF,S", "--ignore", "S101"]
    checks = [
        [ruff, "check", *style, *rules, "."],
        [ruff, "format", *style, "--check", "."],
        [str(tools / "mypy"), "--strict", "--cache-dir", os.devnull, "src", "tests"],
    ]
    env = {**os.environ, "MYPYPATH": "src", "PYTHONDONTWRITEBYTECODE": "1"}
    for command in checks:
        done = subprocess.run(
            command, cwd=package, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout}{done.stderr}"


def test_the_package_has_what_the_guide_and_its_readme_list(packages: dict[str, Path]) -> None:
    package = packages["task"]
    written = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "cassettes" not in path.parts
    }
    assert written == SOURCES
    readme = (package / "README.md").read_text()
    described = SOURCES - {"README.md", "src/imagebridge_acme/py.typed"}
    assert not [path for path in described if f"`{path}`" not in readme]
    guide = (ROOT / "docs" / "plugins.md").read_text()
    start = guide[guide.index("## Start here") : guide.index("## 1. ")]
    assert guide_tree(start) == SOURCES | {"tests/cassettes/"}
    assert {"--kind", "--dir", "--no-record"} <= set(re.findall(r"--[a-z-]+", start))


def guide_tree(text: str) -> set[str]:
    """The paths of the guide's tree of the package (``├── name``, four columns a level)."""
    paths, folders = set(), []
    for indent, name in re.findall(r"(?m)^([│ ]*)[├└]── (\S+)", text):
        depth = len(indent) // 4
        folders[depth:] = [name] if name.endswith("/") else []
        path = "".join(folders[:depth]) + name
        if not name.endswith("/") or path == "tests/cassettes/":
            paths.add(path)
    return paths


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Acme", "is not a provider name"),
        ("acme cloud", "is not a provider name"),
        ("9lives", "is not a provider name"),
        ("openai", "provider 'openai' is already installed"),
    ],
)
def test_a_name_that_cannot_be_a_provider_is_refused(
    name: str, problem: str, run: Invoke, tmp_path: Path
) -> None:
    result = run("plugin", "new", name)
    assert result.exit_code == 2
    assert problem in result.stderr
    assert "choose another name" in result.stderr or "e.g. 'acme'" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_folder_that_is_not_empty_is_never_overwritten(run: Invoke, tmp_path: Path) -> None:
    (tmp_path / "imagebridge-acme").mkdir()
    (tmp_path / "imagebridge-acme" / "notes.txt").write_text("mine")
    result = run("plugin", "new", "acme")
    assert result.exit_code == 2
    assert "already exists and is not an empty folder; nothing was written" in result.stderr
    assert [p.name for p in (tmp_path / "imagebridge-acme").iterdir()] == ["notes.txt"]


def test_without_the_server_extra_it_says_what_to_install(
    run: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "starlette", None)  # as if it were not installed
    result = run("plugin", "new", "acme")
    assert result.exit_code == 2
    assert "pip install 'imagebridge[server]', or pass --no-record" in result.stderr
    assert list(tmp_path.iterdir()) == []
    written = run("plugin", "new", "acme", "--no-record")
    assert written.exit_code == 0, written.stderr
    assert "record the cassettes, as tests/imagebridge-record.toml says" in written.stdout
    package = tmp_path / "imagebridge-acme"
    assert (package / "tests" / "imagebridge-record.toml").is_file()
    assert not (package / "tests" / "cassettes").exists()


def test_the_scenarios_named_here_exist() -> None:
    names = {scenario.name for scenario in SCENARIOS}
    assert TASK_RECORDED - names == set()
    assert {"result_url", "task_statuses"} <= names
