"""Comments and docstrings in src/ and plugins/ cite only things that exist.

Three kinds of citation are checked, wherever they appear in a comment or a docstring:

- a ``*.md`` path (``docs/dialects/dimilinks.md``) must name a file of the repository, given
  from its root; a URL is not a path and is left alone;
- a section quoted right after such a path (``docs/dialects/dimilinks.md, 'Task statuses'``)
  must be a heading of that page;
- a Sphinx role whose target is in ``imagebridge`` or ``imagebridge_plugins``
  (``:func:``, ``:meth:``, ``:class:``, ``:mod:``, ``:data:``, ``:attr:``, ``:exc:``,
  ``:obj:``) must resolve: the longest importable prefix is imported and the rest looked up
  with ``getattr`` (class annotations and pydantic fields count as attributes), and a
  ``:mod:`` target must be a module.
"""

from __future__ import annotations

import ast
import importlib
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("src", "plugins")

# A path may not start right after a character a URL or a longer path would have there.
MD_PATH = re.compile(r"(?<![\w./:-])(?P<path>[\w][\w./-]*\.md)\b(?:,\s*'(?P<section>[^']+)')?")
ROLE = re.compile(
    r":(?P<role>func|meth|class|mod|data|attr|exc|obj):"
    r"`(?:[^`<]*<)?~?(?P<target>imagebridge(?:_plugins)?(?:\.\w+)*)(?:\(\))?>?`"
)
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$", re.M)


@dataclass(frozen=True)
class Citation:
    where: str
    text: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text}: {self.problem}"


def _docstrings(source: str) -> list[tuple[int, str]]:
    """Every string statement (module, class, function and attribute docstrings)."""
    return [
        (node.lineno, node.value.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]


def _comments(source: str) -> list[tuple[int, str]]:
    """Comments, with consecutive comment lines joined so that a citation may wrap."""
    blocks: list[tuple[int, list[str]]] = []
    last = -2
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        line = token.start[0]
        text = token.string.lstrip("#").lstrip(":").strip()
        if line == last + 1 and blocks:
            blocks[-1][1].append(text)
        else:
            blocks.append((line, [text]))
        last = line
    return [(line, "\n".join(lines)) for line, lines in blocks]


def _headings(page: Path) -> set[str]:
    return {match["title"] for match in HEADING.finditer(page.read_text(encoding="utf-8"))}


def _has(obj: object, name: str) -> bool:
    if hasattr(obj, name):
        return True
    if isinstance(obj, type):
        fields = getattr(obj, "model_fields", None)
        if isinstance(fields, dict) and name in fields:
            return True
        return any(name in vars(klass).get("__annotations__", {}) for klass in obj.__mro__)
    return False


def _resolve(target: str, role: str) -> str | None:
    """None when ``target`` resolves, else what is missing."""
    parts = target.split(".")
    module: ModuleType | None = None
    rest: list[str] = []
    for end in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError:
            continue
        rest = parts[end:]
        break
    if module is None:
        return "no such module"
    obj: object = module
    for index, name in enumerate(rest):
        if not _has(obj, name):
            owner = ".".join(parts[: len(parts) - len(rest) + index])
            return f"{owner} has no {name!r}"
        obj = getattr(obj, name, None)
    if role == "mod" and not isinstance(obj, ModuleType):
        return "not a module"
    return None


def citations(source: str, label: str, root: Path = ROOT) -> list[Citation]:
    """The broken citations in one Python source; ``label`` names it in the messages."""
    broken: list[Citation] = []
    for first_line, text in _docstrings(source) + _comments(source):
        for match in MD_PATH.finditer(text):
            where = f"{label}:{first_line + text.count(chr(10), 0, match.start())}"
            page = root / match["path"]
            if not page.is_file():
                broken.append(Citation(where, match["path"], "no such file in the repository"))
                continue
            section = match["section"]
            if section is not None:
                title = " ".join(section.split())
                if title not in _headings(page):
                    broken.append(Citation(where, f"{match['path']}, '{title}'", "no such heading"))
        for match in ROLE.finditer(text):
            where = f"{label}:{first_line + text.count(chr(10), 0, match.start())}"
            problem = _resolve(match["target"], match["role"])
            if problem is not None:
                broken.append(Citation(where, match.group(0), problem))
    return broken


def _sources() -> list[Path]:
    return sorted(path for top in SCANNED for path in (ROOT / top).rglob("*.py"))


def test_every_citation_in_src_and_plugins_exists() -> None:
    broken: list[Citation] = []
    for path in _sources():
        label = path.relative_to(ROOT).as_posix()
        broken += citations(path.read_text(encoding="utf-8"), label)
    assert not broken, "comments cite what does not exist:\n" + "\n".join(map(str, broken))


def test_the_scan_sees_the_citations_it_checks() -> None:
    """Guards the test above against passing on nothing: both kinds are found in the tree."""
    paths = roles = 0
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        for _, text in _docstrings(source) + _comments(source):
            paths += len(MD_PATH.findall(text))
            roles += len(ROLE.findall(text))
    assert paths >= 10
    assert roles >= 20


OLD_TREE = '''"""The dimilinks provider (dialects.md section 1).

Errors are scrubbed (see :func:`imagebridge._redact.scrub`); the journal is
:mod:`imagebridge._journal.TaskJournal`, the wire ``shared/dialects.md``.
"""

#: Neither gateway documents a prompt limit (dialects.md sections 1 and 2, seeds/): see
#: docs/dialects/dimilinks.md, 'No such section'.
LIMIT = 1
'''


def test_the_old_citations_are_reported() -> None:
    """What the tree cited before its dialect notes existed fails, each at its line."""
    found = [str(c) for c in citations(OLD_TREE, "old.py")]
    assert found == [
        "old.py:1: dialects.md: no such file in the repository",
        "old.py:4: shared/dialects.md: no such file in the repository",
        "old.py:3: :func:`imagebridge._redact.scrub`: imagebridge._redact has no 'scrub'",
        "old.py:4: :mod:`imagebridge._journal.TaskJournal`: not a module",
        "old.py:7: dialects.md: no such file in the repository",
        "old.py:8: docs/dialects/dimilinks.md, 'No such section': no such heading",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "see https://github.com/openai/openai-python/blob/main/README.md",
        "see docs/plugins.md and README.md",
        "see docs/dialects/dimilinks.md, 'Task statuses'",
        "see docs/dialects/dimilinks.md,\n    'Sizes and resolution'",
        "a :class:`~imagebridge.ImageClient`, :meth:`imagebridge.ImageClient.generate`",
        ":mod:`imagebridge.adapter`, :data:`imagebridge.adapter.IDEMPOTENT`",
        ":attr:`imagebridge.adapter.Adapter.wire_fields`, :func:`imagebridge.default_registry`",
        ":class:`the request <imagebridge.ImageRequest>`, :attr:`imagebridge.ImageRequest.prompt`",
    ],
)
def test_real_citations_pass(text: str) -> None:
    source = f'"""{text}"""\n'
    assert citations(source, "ok.py") == []
