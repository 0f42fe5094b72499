"""The emulator's dialect names and where each is mounted (no imports: every module uses it).

The first four (``DEFAULT_DIALECTS``) speak under ``/{name}/v1`` and may be the default
dialect, also served at the bare ``/v1``. The others keep their provider's own path prefix
(``MOUNTS``), so that an official SDK pointed at ``http://127.0.0.1:PORT/{name}`` (or at the
full mount) finds the paths it knows; their handlers are listed in :mod:`._dialects`.
"""

from __future__ import annotations

DEFAULT_DIALECTS: tuple[str, ...] = ("openai", "geeknow", "dimilinks", "apimart")

#: Dialect -> the path its API lives under on the emulator.
MOUNTS: dict[str, str] = {
    **{name: f"/{name}/v1" for name in DEFAULT_DIALECTS},
    "fal": "/fal",
    "replicate": "/replicate/v1",
    "google": "/google/v1beta",
    "stability": "/stability/v2beta",
    "bfl": "/bfl/v1",
}

DIALECTS: tuple[str, ...] = tuple(MOUNTS)
