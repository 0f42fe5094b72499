"""Certifies the nine built-in adapters: the kit replays their cassettes, the package data in
plugins/imagebridge_plugins/cassettes/ that ``imagebridge conformance`` replays too.

Regenerate the cassettes with ``.venv/bin/python tests/plugins/record_cassettes.py``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from imagebridge.testing import AdapterConformance

CASSETTES = Path(str(files("imagebridge_plugins") / "cassettes"))


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


class TestFal(AdapterConformance):
    provider = "fal"
    cassettes = CASSETTES


class TestReplicate(AdapterConformance):
    provider = "replicate"
    cassettes = CASSETTES


class TestGoogle(AdapterConformance):
    provider = "google"
    cassettes = CASSETTES


class TestStability(AdapterConformance):
    provider = "stability"
    cassettes = CASSETTES


class TestBfl(AdapterConformance):
    provider = "bfl"
    cassettes = CASSETTES
