"""``python -m bench`` (from the repository root)."""

from __future__ import annotations

from ._cli import main

raise SystemExit(main())
