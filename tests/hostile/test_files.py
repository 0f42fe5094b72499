"""Rule 4 of issue 10: files land only where asked.

A loopback server answers a dimilinks generation with one inline (base64) and one URL image
under a task id of its choosing, while the test plants symlinks (dangling, and to a file
outside) and files where the images would go. Saving never follows or replaces them, keeps
names within 255 bytes, gives both kinds of result the same permissions (0o666 less the
umask), and an output folder that cannot be used is refused before any request is sent.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from helpers import b64png, png
from imagebridge import AsyncImageClient, BatchItem, ConfigurationError
from imagebridge._cli._app import cli
from imagebridge._cli._errors import ExitCode
from imagebridge._emulator import EmulatorConfig, EmulatorServer

from ._loopback import KEY, Loopback, open_client

pytestmark = pytest.mark.anyio

TASK = "task-files-1"
#: 80 characters of 4 bytes each in UTF-8 (word characters: kept in file names): 320 bytes.
WIDE_TASK = "\U00020000" * 80
INLINE, DOWNLOADED = png(3, 2), png(5, 4)


def two_images(task_id: str) -> Loopback:
    """dimilinks: the submit answers at once with an inline image (0) and a URL image (1)."""

    async def answer(request: Request) -> Response:
        if request.method == "POST":
            data = [{"b64_json": b64png(3, 2)}, {"url": f"{request.base_url}img/1.png"}]
            return JSONResponse({"created": 1, "task_id": task_id, "data": data})
        return Response(DOWNLOADED, media_type="image/png")

    return Loopback(answer)


@pytest.fixture(scope="module")
def server() -> Iterator[Loopback]:
    with two_images(TASK) as running:
        yield running


def regular_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.is_symlink()}


def plant(folder: Path, outside: Path) -> dict[Path, Path]:
    """Where each image would go: a dangling symlink into ``outside``; where it would go
    next: a symlink to a file outside. Returns each link and its target."""
    folder.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    victim = outside / "victim.png"
    victim.write_bytes(b"not yours")
    links = {}
    for index in (0, 1):
        links[folder / f"{TASK}-{index}.png"] = outside / f"planted-{index}.png"
        links[folder / f"{TASK}-{index}-1.png"] = victim
    for link, target in links.items():
        link.symlink_to(target)
    return links


def assert_untouched(links: dict[Path, Path], outside: Path) -> None:
    for link, target in links.items():
        assert link.is_symlink(), f"{link.name} was replaced"
        assert os.readlink(link) == str(target)
    assert regular_files(outside) == {"victim.png": b"not yours"}, "a file was written outside"


# -- symlinks and existing files --------------------------------------------------------------
async def test_planted_symlinks_in_the_output_folder_are_never_followed(
    mode: str, server: Loopback, tmp_path: Path
) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    links = plant(out, outside)
    async with open_client(mode, "dimilinks", server.url("/v1")) as client:
        result = await client.generate(n=2)
        paths = await client.save(result, out)
    assert [p.name for p in paths] == [f"{TASK}-0-2.png", f"{TASK}-1-2.png"]
    assert [p.read_bytes() for p in paths] == [INLINE, DOWNLOADED]
    assert not any(p.is_symlink() for p in paths)
    assert_untouched(links, outside)
    assert sorted(regular_files(out)) == [p.name for p in paths], "a temporary file was left"


async def test_without_hard_links_planted_symlinks_are_still_never_followed(
    mode: str, server: Loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system without hard links (FAT, some network shares): names are reserved
    exclusively instead, with the same guarantees."""

    def no_links(source: object, target: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted", str(target))

    out, outside = tmp_path / "out", tmp_path / "outside"
    links = plant(out, outside)
    monkeypatch.setattr(os, "link", no_links)
    async with open_client(mode, "dimilinks", server.url("/v1")) as client:
        result = await client.generate(n=2)
        paths = await client.save(result, out)
    assert [p.name for p in paths] == [f"{TASK}-0-2.png", f"{TASK}-1-2.png"]
    assert [p.read_bytes() for p in paths] == [INLINE, DOWNLOADED]
    assert_untouched(links, outside)
    assert sorted(regular_files(out)) == [p.name for p in paths], "a temporary file was left"


async def test_saving_to_a_named_path_replaces_a_symlink_and_never_writes_through_it(
    mode: str, server: Loopback, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.png"
    victim.write_bytes(b"not yours")
    named = {0: tmp_path / "inline.png", 1: tmp_path / "url.png"}
    named[0].symlink_to(outside / "dangling.png")
    named[1].symlink_to(victim)
    async with open_client(mode, "dimilinks", server.url("/v1")) as client:
        result = await client.generate(n=2)
        for index, path in named.items():
            image = result.images[index]
            saved = image.save(path) if mode == "sync" else await image.asave(path)
            assert saved == path
    assert not named[0].is_symlink()
    assert not named[1].is_symlink()
    assert (named[0].read_bytes(), named[1].read_bytes()) == (INLINE, DOWNLOADED)
    assert regular_files(outside) == {"victim.png": b"not yours"}


async def test_an_existing_file_is_never_overwritten(
    mode: str, server: Loopback, tmp_path: Path
) -> None:
    mine = {f"{TASK}-0.png": b"mine 0", f"{TASK}-1.png": b"mine 1"}
    for name, data in mine.items():
        (tmp_path / name).write_bytes(data)
    async with open_client(mode, "dimilinks", server.url("/v1")) as client:
        result = await client.generate(n=2)
        first = await client.save(result, tmp_path)
        second = await client.save(result, tmp_path)
    assert [p.name for p in first + second] == [
        f"{TASK}-0-1.png",
        f"{TASK}-1-1.png",
        f"{TASK}-0-2.png",
        f"{TASK}-1-2.png",
    ]
    assert regular_files(tmp_path) == {
        **mine,
        **{p.name: data for p, data in zip(first + second, [INLINE, DOWNLOADED] * 2, strict=True)},
    }


# -- names within the file system's limit in bytes --------------------------------------------
async def test_a_task_id_of_80_four_byte_characters_still_saves(mode: str, tmp_path: Path) -> None:
    with two_images(WIDE_TASK) as wide:
        async with open_client(mode, "dimilinks", wide.url("/v1")) as client:
            result = await client.generate(n=2)
            assert result.task_id == WIDE_TASK
            first = await client.save(result, tmp_path)
            second = await client.save(result, tmp_path)  # the counter's suffix must fit too
    paths = first + second
    assert [p.read_bytes() for p in paths] == [INLINE, DOWNLOADED] * 2
    assert len({p.name for p in paths}) == 4
    for path in paths:
        assert len(os.fsencode(path.name)) <= 255, path.name
    # The stem is cut on a character boundary, never the index, counter or extension.
    stems, suffixes = zip(*(p.name.split("-", 1) for p in paths), strict=True)
    assert all(set(stem) == {"\U00020000"} and len(stem) >= 60 for stem in stems)
    assert suffixes == ("0.png", "1.png", "0-1.png", "1-1.png")


# -- permissions ------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask-022", "umask-077"])
async def test_inline_and_url_results_get_the_same_permissions(
    mode: str, server: Loopback, tmp_path: Path, umask: int
) -> None:
    previous = os.umask(umask)
    try:
        async with open_client(mode, "dimilinks", server.url("/v1")) as client:
            result = await client.generate(n=2)
            into_folder = await client.save(result, tmp_path / "folder")
            named = []
            for index, image in enumerate(result.images):
                path = tmp_path / f"named-{index}.png"
                named.append(image.save(path) if mode == "sync" else await image.asave(path))
    finally:
        os.umask(previous)
    modes = [stat.S_IMODE(p.stat().st_mode) for p in into_folder + named]
    assert modes == [0o666 & ~umask] * 4, [oct(m) for m in modes]


# -- the output folder is checked before any request ------------------------------------------
@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.05, api_key=KEY)) as running:
        yield running


@pytest.fixture
def emu(emulator: EmulatorServer) -> EmulatorServer:
    emulator.app_state.reset()
    return emulator


def unusable(tmp_path: Path) -> dict[Path, str]:
    """Output folders that cannot be used, and why."""
    afile, dangling = tmp_path / "afile", tmp_path / "dangling"
    afile.write_bytes(b"a file")
    dangling.symlink_to(tmp_path / "nowhere")
    return {
        afile: "it is a file, not a folder",
        afile / "sub": f"{str(afile)!r} is a file, not a folder",
        dangling / "sub": f"{str(dangling)!r} is a broken symlink, not a folder",
    }


async def test_batch_refuses_an_unusable_output_folder_before_any_request(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    items = [BatchItem("one", "a lighthouse")]
    async with AsyncImageClient(
        "openai", api_key=KEY, base_url=emu.url("openai"), journal=False
    ) as client:
        for folder, why in unusable(tmp_path).items():
            with pytest.raises(ConfigurationError) as info:
                await client.batch(items, folder)
            assert str(info.value) == f"output folder {str(folder)!r} cannot be used: {why}"
        assert emu.app_state.requests == []
        # The control: the same batch into a usable folder does send its request.
        [outcome] = await client.batch(items, tmp_path / "good" / "sub")
    assert outcome.status == "saved"
    assert len(emu.app_state.requests) == 1


@pytest.mark.skipif(getattr(os, "geteuid", lambda: 0)() == 0, reason="root writes anywhere")
async def test_batch_refuses_a_read_only_output_folder(emu: EmulatorServer, tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    async with AsyncImageClient(
        "openai", api_key=KEY, base_url=emu.url("openai"), journal=False
    ) as client:
        with pytest.raises(ConfigurationError, match="is not writable"):
            await client.batch([BatchItem("one", "a lighthouse")], folder)
    assert emu.app_state.requests == []


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert KEY not in result.stdout + result.stderr
    return result


def cli_commands(emu: EmulatorServer, tmp_path: Path, output: str) -> dict[str, list[str]]:
    """generate, edit, task --wait and batch of the openai / dimilinks dialects."""
    (tmp_path / "cat.png").write_bytes(png(8, 8))
    (tmp_path / "requests.jsonl").write_text(json.dumps({"prompt": "a lighthouse"}) + "\n")
    openai = ["-p", "openai", "--base-url", emu.url("openai"), "--api-key", KEY]
    dimilinks = ["-p", "dimilinks", "--base-url", emu.url("dimilinks"), "--api-key", KEY]
    return {
        "generate": ["generate", "a lighthouse", *openai, "-o", output],
        "edit": ["edit", "add a hat", "-i", str(tmp_path / "cat.png"), *openai, "-o", output],
        "task": ["task", "task_0123", *dimilinks, "--wait", "-o", output],
        "batch": ["batch", str(tmp_path / "requests.jsonl"), *openai, "-o", output],
    }


@pytest.mark.parametrize("command", ["generate", "edit", "task", "batch"])
def test_cli_refuses_an_output_under_a_file_with_zero_requests(
    emu: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_bytes(b"a file")
    result = invoke(*cli_commands(emu, tmp_path, "afile/sub")[command])
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert result.stderr.splitlines() == [
        "imagebridge: error: output folder 'afile/sub' cannot be used:"
        " 'afile' is a file, not a folder"
    ]
    assert emu.app_state.requests == []
    assert (tmp_path / "afile").read_bytes() == b"a file"


def test_cli_with_a_usable_output_sends_and_saves(
    emu: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control of the test above: the same command with a usable folder."""
    monkeypatch.chdir(tmp_path)
    result = invoke(*cli_commands(emu, tmp_path, "new/sub")["generate"])
    assert result.exit_code == ExitCode.OK, result.stderr
    assert len(emu.app_state.requests) == 1
    [line] = result.stdout.splitlines()
    assert Path(line).parent == Path("new/sub")
    assert Path(line).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_never_follows_a_symlink_planted_in_the_output_folder(
    server: Loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out, outside = tmp_path / "out", tmp_path / "outside"
    links = plant(out, outside)
    dimilinks = ["-p", "dimilinks", "--base-url", server.url("/v1"), "--api-key", KEY]
    result = invoke("generate", "a lighthouse", *dimilinks, "-n", "2", "-o", "out", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    paths = [Path(image["path"]) for image in json.loads(result.stdout)["images"]]
    assert [p.name for p in paths] == [f"{TASK}-0-2.png", f"{TASK}-1-2.png"]
    assert [p.read_bytes() for p in paths] == [INLINE, DOWNLOADED]
    assert_untouched(links, outside)
