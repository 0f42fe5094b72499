"""The canonical fields are typed keyword arguments: mypy --strict checks a program's calls.

One mypy run over a small program that uses the public API the way users do: the correct
calls type-check, and each mistake (a misspelled field, a value outside a literal, a wrong
type) is reported on its own line, and nothing else is.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from mypy import api

PROGRAM = textwrap.dedent(
    """
    from pathlib import Path

    from imagebridge import AsyncImageClient, ImageClient, ImageResult, TaskHandle


    def good(client: ImageClient) -> ImageResult:
        client.generate("a cat", size="16:9", resolution="2k", n=2, quality="high")
        client.edit("bluer", [Path("a.png"), b"png"], mask=Path("m.png"), output_format="webp")
        client.generate("a cat", timeout=None, provider_options={"geeknow": {"watermark": False}})
        task: TaskHandle = client.submit("a cat", model="gpt-image-2", reference_images=["https://x/a.png"])
        return client.wait(task, timeout=30)


    async def agood(client: AsyncImageClient) -> ImageResult:
        return await client.generate("a cat", background="transparent", output_compression=80)


    def bad(client: ImageClient) -> None:
        client.generate("a cat", sise="1:1")  # line-misspelled
        client.generate("a cat", resolution="8k")  # line-literal
        client.generate("a cat", n="2")  # line-type
        client.edit("x", [Path("a.png")], reference_images=[])  # line-edit-images


    async def abad(client: AsyncImageClient) -> None:
        await client.generate("a cat", qualty="high")  # line-async-misspelled
    """
)


def test_mypy_checks_the_canonical_fields_of_every_call(tmp_path: Path) -> None:
    program = tmp_path / "usage.py"
    program.write_text(PROGRAM, encoding="utf-8")
    out, err, status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(program)]
    )
    lines = PROGRAM.splitlines()
    expected = {
        index + 1: match.group(1)
        for index, line in enumerate(lines)
        if (match := re.search(r"# (line-[a-z-]+)$", line))
    }
    reported: dict[int, list[str]] = {}
    for line in out.splitlines():
        match = re.match(r".*usage\.py:(\d+): error: (.*)", line)
        if match:
            reported.setdefault(int(match.group(1)), []).append(match.group(2))
    assert status == 1, out + err
    assert set(reported) == set(expected), out
    assert any('"sise"' in message for message in reported[_line(expected, "line-misspelled")])
    assert any(
        '"qualty"' in message for message in reported[_line(expected, "line-async-misspelled")]
    )


def _line(expected: dict[int, str], tag: str) -> int:
    return next(number for number, name in expected.items() if name == tag)
