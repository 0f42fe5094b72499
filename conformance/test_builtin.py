"""The conformance suite of the four built-in adapters, replayed from conformance/cassettes/.

Regenerate the cassettes with ``.venv/bin/python conformance/record_builtin.py``.
"""

from __future__ import annotations

from pathlib import Path

from imagebridge.testing import AdapterConformance

CASSETTES = Path(__file__).parent / "cassettes"


class TestOpenAI(AdapterConformance):
    provider = "openai"
    cassettes = CASSETTES


class TestGeeknow(AdapterConformance):
    provider = "geeknow"
    cassettes = CASSETTES


class TestDimilinks(AdapterConformance):
    provider = "dimilinks"
    cassettes = CASSETTES


class TestApimart(AdapterConformance):
    provider = "apimart"
    cassettes = CASSETTES
