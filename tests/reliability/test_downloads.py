"""Result downloads: capped by ``max_download_bytes`` (a clear error, nothing half-written) and
streamed to disk (a 4K image is never held in memory by ``save``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from imagebridge import ImageBridgeError, ServerError
from imagebridge._emulator import EmulatorServer

from .support import assert_clean, bridge, counts, journal_entries

pytestmark = pytest.mark.anyio


async def test_a_download_over_the_cap_is_refused_and_leaves_no_file(
    mode: str, emu: EmulatorServer, tmp_path: Path, journal: Path
) -> None:
    out = tmp_path / "out"
    async with bridge(mode, "dimilinks", emu, max_download_bytes=1000) as client:
        result = await client.generate(size="1:1")
        with pytest.raises(ServerError) as info:
            await client.save(result, out)
    error = info.value
    assert error.code == "download_too_large"
    assert "1000-byte download limit" in str(error)
    assert "max_download_bytes" in str(error)
    assert list(out.iterdir()) == [], "no partial or temporary file is left"
    image = result.images[0]
    assert (image.data, image.path) == (None, None)
    assert counts(emu, "dimilinks").downloads == 1, "a refused download is not retried"
    # The paid task stays resumable.
    assert [e.state for e in journal_entries(journal, task_id=result.task_id)] == ["fetched"]
    assert_clean(error=error, journal=journal, server=emu, folders=[out])


async def test_the_cap_also_bounds_read(mode: str, emu: EmulatorServer) -> None:
    async with bridge(mode, "apimart", emu, max_download_bytes=1000) as client:
        result = await client.generate(size="1:1")
        image = result.images[0]
        read = image.read if mode == "sync" else None
        with pytest.raises(ServerError, match="download limit"):
            await image.aread() if read is None else read()
    assert image.data is None


async def test_a_4k_image_is_streamed_to_disk(
    mode: str, emu: EmulatorServer, tmp_path: Path, journal: Path
) -> None:
    async with bridge(mode, "dimilinks", emu) as client:
        result = await client.generate(size="16:9", resolution="4k")
        [path] = await client.save(result, tmp_path)
    image = result.images[0]
    assert image.data is None, "save() held the whole image in memory"
    assert image.path == path
    assert (image.width, image.height) == (3840, 2160)  # read from the streamed head
    with Image.open(path) as decoded:
        assert decoded.size == (3840, 2160)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert [e.state for e in journal_entries(journal, task_id=result.task_id)] == ["saved"]


@pytest.mark.parametrize("fault", ["download:expired", "download:500"])
async def test_a_download_error_names_the_accepted_task(
    mode: str, emu: EmulatorServer, tmp_path: Path, fault: str
) -> None:
    emu.app_state.faults.replace([fault])
    async with bridge(mode, "dimilinks", emu) as client:
        result = await client.generate()
        with pytest.raises(ImageBridgeError) as info:
            await client.save(result, tmp_path)
    assert result.task_id is not None
    assert info.value.task_id == result.task_id
