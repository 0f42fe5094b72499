"""``python -m imagebridge.testing record`` takes what ``record()`` takes, from
``tests/imagebridge-record.toml`` and flags: a provider that answers only inline images is
recorded by the first command the guide shows, flags win over the file, and a file that
cannot be used is an error naming the key (never echoing a value)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagebridge import default_registry
from imagebridge.testing import load_cassette
from imagebridge.testing.__main__ import main

from .lumen_fake import KEY, FakeLumen, load_plugin

BASE = """
provider = "lumen"
base_url = "https://api.lumen.example/api"
"""


@pytest.fixture
def lumen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeLumen]:
    """The lumen plugin registered, its fake serving, the key exported, and the current
    directory a plugin's root (``tests/`` is where the record file goes)."""
    registry = default_registry()
    registry.register(load_plugin(), "test-lumen")
    monkeypatch.setenv("LUMEN_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tests").mkdir()
    try:
        with FakeLumen() as fake:
            yield fake
    finally:
        registry.unregister("test-lumen")


def write_config(text: str) -> Path:
    path = Path("tests") / "imagebridge-record.toml"
    path.write_text(textwrap.dedent(text))
    return path


def rows(out: str) -> dict[str, tuple[str, str]]:
    found = {}
    for line in out.splitlines():
        name, _, rest = line.partition(" ")
        status, _, detail = rest.strip().partition(" ")
        found[name] = (status, detail.strip())
    return found


def test_the_record_file_records_a_provider_that_answers_only_inline_images(
    lumen: FakeLumen, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(
        BASE
        + """
        [not_applicable]
        result_url = "Lumen answers with base64 images only"
        """
    )
    args = ["record", "--base-url", lumen.url, "--scenario", "result_url"]
    assert main([*args, "--scenario", "result_b64"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"config: {Path.cwd() / 'tests' / 'imagebridge-record.toml'}"
    found = rows(out)
    assert found["result_url"] == ("not_applicable", "Lumen answers with base64 images only")
    assert found["result_b64"][0] == "recorded"
    cassettes = Path("tests") / "cassettes"  # the default out: beside the file
    stub = load_cassette(cassettes / "result_url.json")
    assert stub.not_applicable == "Lumen answers with base64 images only"

    # The other scenarios were not recorded here, so the run fails; these two replay.
    assert main(["run", "--provider", "lumen", "--cassettes", str(cassettes)]) == 1
    table = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    assert table["result_b64"].split()[1] == "pass"
    assert table["result_url"].split()[1] == "skip"


def test_without_the_not_applicable_entry_the_failure_says_how_to_add_it(
    lumen: FakeLumen, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(BASE)
    assert main(["record", "--base-url", lumen.url, "--scenario", "result_url"]) == 1
    status, detail = rows(capsys.readouterr().out)["result_url"]
    assert status == "failed"
    assert detail.startswith("expected url images, got ['inline']")
    assert "--not-applicable result_url='<why>'" in detail
    assert "[not_applicable] in imagebridge-record.toml" in detail
    assert not (Path("tests") / "cassettes" / "result_url.json").exists()


def test_flags_override_the_file_and_add_to_it(
    lumen: FakeLumen, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(
        """
        provider = "lumen"
        base_url = "http://127.0.0.1:9/api"   # overridden: nothing listens there
        out = "recorded"

        [hints.content_policy]
        marker = "#fail=content_policy_violation"   # overridden by --marker

        [hints.text_to_image]
        fields = { n = 2 }
        """
    )
    argv = ["record", "--base-url", lumen.url, "--marker", "content_policy=#fail=nsfw"]
    argv += ["--scenario", "content_policy", "--scenario", "text_to_image"]
    argv += ["--not-applicable", "result_b64=not asked for here", "--scenario", "result_b64"]
    assert main(argv) == 0, capsys.readouterr().out
    found = rows(capsys.readouterr().out)
    assert [found[name][0] for name in ("content_policy", "text_to_image", "result_b64")] == [
        "recorded",
        "recorded",
        "not_applicable",
    ]
    folder = Path("tests") / "recorded"  # out, relative to the file
    policy = load_cassette(folder / "content_policy.json")
    assert policy.call is not None
    assert policy.call.prompt is not None
    assert policy.call.prompt.endswith("#fail=nsfw")
    two = load_cassette(folder / "text_to_image.json")
    assert two.call is not None
    assert two.call.fields == {"n": 2}
    assert two.expected is not None
    assert two.expected.result is not None
    assert two.expected.result.images == 2


BAD_FILES = {
    "unknown key": (
        BASE + 'scenario = ["text_to_image"]\n',
        "scenario: unknown key (the keys: provider, base_url, out,",
    ),
    "unknown hint key": (
        BASE + '[hints.content_policy]\nmarkr = "#fail=nsfw"\n',
        "hints.content_policy.markr: unknown key (the keys: marker, fields, model)",
    ),
    "unknown scenario": (
        BASE + '[hints.content_polcy]\nmarker = "#fail=nsfw"\n',
        "[hints]: unknown scenario 'content_polcy'; the scenarios are text_to_image,",
    ),
    "a key in the file": (
        BASE + f'api_key = "{KEY}"\n',
        "api_key: a key is never read from a file; put it in an environment variable",
    ),
    "a wrong type": (BASE + f'timing = "{KEY}"\n', "timing: Input should be a valid boolean"),
    "not TOML": (BASE + "[not_applicable\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_record_file_that_cannot_be_used_is_an_error_naming_the_key(
    case: str, lumen: FakeLumen, capsys: pytest.CaptureFixture[str]
) -> None:
    text, message = BAD_FILES[case]
    path = write_config(text)
    assert main(["record", "--base-url", lumen.url]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("python -m imagebridge.testing: ")
    assert str(path.resolve()) in captured.err or str(path) in captured.err
    assert message in captured.err
    assert KEY not in captured.err + captured.out
    assert lumen.seen == []  # nothing was sent
    assert not (Path("tests") / "cassettes").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenario", "text_to_imag"], "--scenario: unknown scenario 'text_to_imag'"),
        (["--marker", "nope=#fail=x"], "--marker: unknown scenario 'nope'"),
        (["--config", "elsewhere.toml"], "--config elsewhere.toml: no such file"),
    ],
)
def test_flags_naming_what_does_not_exist_are_errors(
    argv: list[str], message: str, lumen: FakeLumen, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(BASE)
    assert main(["record", "--base-url", lumen.url, *argv]) == 2
    assert message in capsys.readouterr().err
    assert lumen.seen == []


def test_without_a_file_the_provider_and_base_url_are_asked_for(
    lumen: FakeLumen, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["record", "--base-url", lumen.url]) == 2
    assert capsys.readouterr().err == (
        "python -m imagebridge.testing: record: no provider: pass --provider, or set provider"
        " in tests/imagebridge-record.toml (or in the file --config names)\n"
    )


def test_a_missing_key_variable_is_named_before_anything_is_sent(
    lumen: FakeLumen, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LUMEN_API_KEY")
    write_config(BASE + 'api_key_env = "MY_LUMEN_KEY"\n')
    assert main(["record", "--base-url", lumen.url]) == 2
    assert "record: no API key: MY_LUMEN_KEY is not set" in capsys.readouterr().err
    assert lumen.seen == []
    monkeypatch.setenv("MY_LUMEN_KEY", KEY)
    assert main(["record", "--base-url", lumen.url, "--scenario", "text_to_image"]) == 0
    assert rows(capsys.readouterr().out)["text_to_image"][0] == "recorded"
    assert {headers.get("X-Lumen-Key") for _, _, headers in lumen.seen} == {KEY}
