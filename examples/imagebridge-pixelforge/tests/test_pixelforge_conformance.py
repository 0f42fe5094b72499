from pathlib import Path

from imagebridge.testing import AdapterConformance


class TestPixelForge(AdapterConformance):
    provider = "pixelforge"
    cassettes = Path(__file__).parent / "cassettes"
