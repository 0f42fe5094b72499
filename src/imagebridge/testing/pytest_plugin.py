"""pytest plugin of the conformance kit (registered through ``pytest11``; inert unless asked).

It is loaded in every pytest run of an environment where imagebridge is installed, so it
does nothing at import and nothing for tests that do not use the kit: it only registers the
``imagebridge_conformance`` marker and parametrizes the test methods of
:class:`~imagebridge.testing.AdapterConformance` subclasses with their cases.
"""

from __future__ import annotations

from typing import Any

_ARGUMENTS = frozenset({"imagebridge_case", "imagebridge_rejection"})


def pytest_configure(config: Any) -> None:
    """Register the kit's marker (``--strict-markers`` safe)."""
    config.addinivalue_line(
        "markers", "imagebridge_conformance: a case of the imagebridge conformance kit"
    )


def pytest_generate_tests(metafunc: Any) -> None:
    """Parametrize the test methods of kit classes with their cases; ignore anything else."""
    if metafunc.cls is None or not _ARGUMENTS.intersection(metafunc.fixturenames):
        return
    from ._suite import parametrize

    parametrize(metafunc)
