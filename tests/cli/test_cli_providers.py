"""``imagebridge providers``."""

from __future__ import annotations

import json

from .conftest import Invoke


def test_providers_human(run: Invoke) -> None:
    result = run("providers")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for name in ("openai", "geeknow", "dimilinks", "apimart"):
        assert f"\n{name}: " in f"\n{out}"
    assert "$GEEKNOW_API_KEY" in out
    assert "$OPENAI_BASE_URL or https://api.openai.com/v1" in out
    assert "gpt-image-1 (default)" in out
    assert "sizes 1024x1024 1792x1024 1024x1792" in out  # dall-e-3, refined by the plugin
    assert "async tasks" in out  # dimilinks


def test_providers_json(run: Invoke) -> None:
    result = run("providers", "--json")
    assert result.exit_code == 0, result.stderr
    providers = json.loads(result.stdout)["providers"]
    assert {"openai", "geeknow"} <= set(providers)
    geeknow = providers["geeknow"]
    assert geeknow["env"] == {"api_key": "GEEKNOW_API_KEY", "base_url": "GEEKNOW_BASE_URL"}
    assert geeknow["default_model"] == "gpt-image-1"
    assert "dall-e-3" in geeknow["models"]
    for name in ("openai", "geeknow"):
        dalle3 = providers[name]["capabilities"]["dall-e-3"]
        assert dalle3["sizes"] == ["1024x1024", "1792x1024", "1024x1792"]
        assert dalle3["max_images_per_call"] == 1
    assert providers["dimilinks"]["capabilities"]["gpt-image-2"]["async_tasks"] is True


def test_providers_by_name(run: Invoke) -> None:
    result = run("providers", "geeknow", "--json")
    assert list(json.loads(result.stdout)["providers"]) == ["geeknow"]
    result = run("providers", "nope")
    assert result.exit_code == 2
    assert "installed providers: " in result.stderr
