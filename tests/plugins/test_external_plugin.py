"""A third-party plugin package, installed the way a wheel installs it, found by entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import b64png

PLUGIN_MODULE = '''
"""A throwaway imagebridge plugin: one adapter named "throwaway"."""

import base64

import httpx

from imagebridge import hookimpl
from imagebridge.adapter import Adapter, Capabilities, GeneratedImage, ImageResult


class ThrowawayAdapter(Adapter):
    name = "throwaway"
    description = "installed from a tmp dir"
    default_base_url = "https://api.throwaway.test/v1"
    default_model = "tw-1"
    models = ("tw-1",)

    def capabilities(self, model):
        return Capabilities(model=model, size_auto=True)

    def generate(self, plan):
        response = yield httpx.Request(
            "POST", self.url("/draw"), json={"prompt": plan.request.prompt, "n": plan.n}
        )
        body = self.mapping(response)
        images = [GeneratedImage(b64_json=item) for item in body["images"]]
        return ImageResult(images=images, provider=self.name, model=plan.model)


@hookimpl
def imagebridge_adapters():
    return [ThrowawayAdapter]
'''

SCRIPT = """
import base64, json, sys
import httpx
import imagebridge

PNG = base64.b64decode(sys.argv[1])
seen = []

def handler(request):
    auth = request.headers.get("authorization")
    seen.append([str(request.url), auth, json.loads(request.content)])
    return httpx.Response(200, json={"images": [base64.b64encode(PNG).decode()]})

registry = imagebridge.default_registry()
with imagebridge.ImageClient(
    "throwaway", api_key="k-123456", transport=httpx.MockTransport(handler)
) as client:
    result = client.generate("a kite")
image = result.images[0]
print(json.dumps({
    "adapters": list(registry.adapters),
    "plugins": registry.plugin_names(),
    "seen": seen,
    "image": [image.media_type, image.width, image.height],
    "model": result.model,
}))
"""


def install_throwaway(site: Path) -> None:
    """What ``pip install`` of a wheel leaves behind: the module and its dist-info."""
    (site / "ib_throwaway_plugin.py").write_text(PLUGIN_MODULE)
    info = site / "ib_throwaway_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ib_throwaway_plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text("[imagebridge]\nthrowaway = ib_throwaway_plugin\n")
    (info / "RECORD").write_text("")


def test_an_installed_third_party_plugin_is_listed_and_usable(tmp_path: Path) -> None:
    install_throwaway(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("THROWAWAY_API_KEY", None)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), b64png(9, 4)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "throwaway" in report["adapters"]
    assert {"openai", "geeknow"} <= set(report["adapters"])
    assert "throwaway" in report["plugins"]
    assert report["seen"] == [
        ["https://api.throwaway.test/v1/draw", "Bearer k-123456", {"prompt": "a kite", "n": 1}]
    ]
    assert report["image"] == ["image/png", 9, 4]
    assert report["model"] == "tw-1"


def test_without_the_package_the_provider_is_unknown(tmp_path: Path) -> None:
    code = "import imagebridge; print('throwaway' in imagebridge.default_registry().adapters)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "False"
