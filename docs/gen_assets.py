"""Vendor mermaid.js into the built site (run by mkdocs-gen-files), so no page loads a CDN.

mkdocs-material renders ```` ```mermaid ```` blocks with mermaid.js and fetches it from a CDN
unless a ``mermaid`` is already defined: ``extra_javascript`` in ``mkdocs.yml`` loads the copy
written here. It comes from the npm package ``mermaid`` (its self-contained
``dist/mermaid.min.js``), pinned in ``docs-js/package.json`` and ``docs-js/package-lock.json``
and installed by ``scripts/ensure-docs-js`` (``npm ci``), which ``scripts/check`` runs before
the build. A missing or different version fails the build instead of quietly changing the site.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "docs-js"
#: Where the site serves it (the path ``extra_javascript`` names).
SITE_PATH = "assets/javascripts/mermaid.min.js"


def pinned_version() -> str:
    """The mermaid version package-lock.json pins."""
    lock = json.loads((PACKAGES / "package-lock.json").read_text(encoding="utf-8"))
    version: str = lock["packages"]["node_modules/mermaid"]["version"]
    return version


def mermaid_bundle() -> bytes:
    """The pinned mermaid.min.js, from docs-js/node_modules."""
    installed = PACKAGES / "node_modules" / "mermaid"
    wanted = pinned_version()
    try:
        version = json.loads((installed / "package.json").read_text(encoding="utf-8"))["version"]
    except FileNotFoundError:
        version = None
    if version != wanted:
        raise SystemExit(
            f"docs: mermaid {wanted} is not installed in {installed} (found {version}):"
            " run scripts/ensure-docs-js (npm ci in docs-js/)"
        )
    return (installed / "dist" / "mermaid.min.js").read_bytes()


def main() -> None:
    import mkdocs_gen_files

    with mkdocs_gen_files.open(SITE_PATH, "wb") as handle:
        handle.write(mermaid_bundle())


if __name__ in ("__main__", "<run_path>"):
    main()
