"""Named profiles in ``imagebridge.toml``: loading, every refusal (each message checked for
what it names, and a pasted key never echoed), where the file is looked for, and
``from_profile`` end to end against two emulators; plus the journal's default folder."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from imagebridge import (
    AsyncImageClient,
    AsyncRoutedImageClient,
    ConfigurationError,
    ImageClient,
    ImageResult,
    RateLimit,
    RoutedImageClient,
)
from imagebridge._journal import default_journal_path
from imagebridge._profiles import ConfigFile, find_config, load_config, load_profile

from .support import KEY_A, KEY_B, OPTIONS, PROMPT, Pair

FAKE = "sk-FAKE-profile-key-9f8e7d6c5b4a"
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the XDG variables are read on Linux"
)

EXAMPLE = """
[routes.main]
provider = "openai"
model = "gpt-image-1"
base_url = "https://api.example.test/v1"
api_key_env = "MAIN_KEY"
weight = 2.5
provider_options = { quality_hint = "x", nested = { level = 1 } }
rate_limit = { requests_per_minute = 300, max_concurrent = 4 }

[routes.backup]
provider = "dimilinks"

[profiles.default]
routes = ["main", "backup"]
strategy = "weighted"
cooldown = 5

[profiles.cheap]
routes = ["backup"]
"""


@pytest.fixture(autouse=True)
def _no_outside_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No IMAGEBRIDGE_CONFIG and no user config file from the machine running the tests."""
    monkeypatch.delenv("IMAGEBRIDGE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))


def write(folder: Path, text: str, name: str = "imagebridge.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str) -> str:
    """The message of the ConfigurationError loading ``text`` raises, checked to name the
    file and to hold the fake key nowhere (message, args, repr, the chained errors)."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    error: BaseException | None = info.value
    while error is not None:
        for shown in (str(error), repr(error), repr(error.args)):
            assert FAKE not in shown
        error = error.__cause__ or error.__context__
    return str(info.value)


# -- loading ----------------------------------------------------------------------------------
def test_a_file_gives_its_routes_and_profiles(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    config = load_config(path)
    assert isinstance(config, ConfigFile)
    assert config.path == path
    main = config.routes["main"]
    assert (main.name, main.provider, main.model) == ("main", "openai", "gpt-image-1")
    assert main.base_url == "https://api.example.test/v1"
    assert (main.api_key, main.api_key_env, main.weight) == (None, "MAIN_KEY", 2.5)
    assert main.provider_options == {"quality_hint": "x", "nested": {"level": 1}}
    assert main.rate_limit == RateLimit(requests_per_minute=300, max_concurrent=4)
    backup = config.routes["backup"]
    assert (backup.name, backup.model, backup.api_key_env, backup.weight) == (
        "backup",
        None,
        None,
        1.0,
    )
    default = config.profile("default")
    assert [route.name for route in default.routes] == ["main", "backup"]
    assert (default.name, default.strategy, default.cooldown) == ("default", "weighted", 5.0)
    assert isinstance(default.cooldown, float)
    assert default.source == path
    cheap = load_profile("cheap", path)
    assert (cheap.strategy, cheap.cooldown, cheap.routes) == ("ordered", 30.0, (backup,))


def test_a_route_may_be_named_like_a_secret(tmp_path: Path) -> None:
    text = '[routes.token]\nprovider = "openai"\n[profiles.key]\nroutes = ["token"]\n'
    assert load_profile("key", write(tmp_path, text)).routes[0].name == "token"


def test_an_empty_file_has_no_profiles(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert (config.routes, config.profiles) == ({}, {})


# -- keys never in the file -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "where", "key"),
    [
        (f'[routes.main]\nprovider = "openai"\napi_key = "{FAKE}"\n', "route 'main'", "api_key"),
        (f'[routes.main]\nprovider = "openai"\nAPI_KEY = "{FAKE}"\n', "route 'main'", "API_KEY"),
        (f'[routes.main]\nprovider = "openai"\nApi-Key = "{FAKE}"\n', "route 'main'", "Api-Key"),
        (
            f'[routes.main]\nprovider = "openai"\nprovider_options = {{ token = "{FAKE}" }}\n',
            "route 'main'",
            "provider_options.token",
        ),
        (
            f'[routes.main]\nprovider = "openai"\n[routes.main.provider_options.auth]\n'
            f'Password = "{FAKE}"\n',
            "route 'main'",
            "provider_options.auth.Password",
        ),
        (
            f'[routes.main]\nprovider = "openai"\nprovider_options = {{ list = [{{ key = "{FAKE}"'
            " }] }\n",
            "route 'main'",
            "provider_options.list.key",
        ),
        (
            f'[routes.main]\nprovider = "openai"\naccess_token = "{FAKE}"\n',
            "route 'main'",
            "access_token",
        ),
        (f'[profiles.default]\nroutes = []\nsecret = "{FAKE}"\n', "profile 'default'", "secret"),
        (f'authorization = "Bearer {FAKE}"\n', "the top level", "authorization"),
    ],
)
def test_a_key_in_the_file_is_refused_by_name_never_by_value(
    tmp_path: Path, text: str, where: str, key: str
) -> None:
    message = refusal(tmp_path, text)
    assert f"{where}: '{key}'" in message
    assert 'api_key_env = "VARIABLE"' in message
    assert "never read from a file" in message


def test_api_key_env_must_be_a_variable_name_and_is_not_echoed(tmp_path: Path) -> None:
    message = refusal(tmp_path, f'[routes.main]\nprovider = "openai"\napi_key_env = "{FAKE}"\n')
    assert "route 'main'" in message
    assert "api_key_env is not an environment variable name" in message
    assert "it may be a key" in message


@pytest.mark.parametrize(
    "text",
    [
        f'[routes.main]\nprovider = "openai"\napi_key = {FAKE}\n',  # not even valid TOML
        f'[routes.main]\nprovider = "openai"\nkey_of_mine = "{FAKE}"\n',  # unknown key
        f'[routes.main]\nprovider = "openai"\nmodel = ["{FAKE}"]\n',
        f'[routes.main]\nprovider = "openai"\nweight = "{FAKE}"\n',
        f'[routes.main]\nprovider = ["{FAKE}"]\n',
        f'[routes.main]\nprovider = "openai"\nbase_url = {{ url = "{FAKE}" }}\n',
        f'[routes.main]\nprovider = "openai"\nrate_limit = {{ max_concurrent = "{FAKE}" }}\n',
        f'[routes.main]\nprovider = "openai"\nrate_limit = "{FAKE}"\n',
        f'[routes.main]\nprovider = "openai"\nprovider_options = "{FAKE}"\n',
        f'[routes]\nmain = "{FAKE}"\n',
        f'routes = "{FAKE}"\n',
        f'[profiles.default]\nroutes = "{FAKE}"\n',
        f'[routes.a]\nprovider = "openai"\n[profiles.p]\nroutes = ["a"]\nstrategy = "{FAKE}"\n',
        f'[routes.a]\nprovider = "openai"\n[profiles.p]\nroutes = ["a"]\ncooldown = "{FAKE}"\n',
    ],
)
def test_a_pasted_key_is_in_no_message(tmp_path: Path, text: str) -> None:
    refusal(tmp_path, text)  # refused, and FAKE in none of it (checked there)


def test_a_key_in_the_named_variable_is_in_no_repr_or_str(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAIN_KEY", FAKE)
    monkeypatch.setenv("DIMILINKS_API_KEY", FAKE)  # the backup route's default variable
    config = load_config(write(tmp_path, EXAMPLE))
    profile = config.profile("default")
    for thing in (config, profile, *profile.routes, config.routes):
        assert FAKE not in repr(thing)
        assert FAKE not in str(thing)
    with ImageClient.from_profile("default", config=config.path, journal=False) as client:
        assert FAKE not in repr(client)
        assert FAKE not in str(client)


# -- every other refusal ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[route.main]\nprovider = "openai"\n', "the top level: unknown key 'route'"),
        ('[routes.main]\nprovider = "openai"\nmodle = "x"\n', "route 'main': unknown key 'modle'"),
        ('[routes.main]\nprovider = "openai"\nname = "x"\n', "route 'main': unknown key 'name'"),
        (
            '[routes.main]\nprovider = "openai"\nrate_limit = { rpm = 3 }\n',
            "route 'main': rate_limit: unknown key 'rpm'",
        ),
        ('[profiles.p]\nroutes = ["a"]\nmode = "x"\n', "profile 'p': unknown key 'mode'"),
    ],
)
def test_an_unknown_key_names_itself_its_table_and_the_allowed_keys(
    tmp_path: Path, text: str, named: str
) -> None:
    message = refusal(tmp_path, text)
    assert named in message
    allowed = message.split("the keys allowed there: ")[1]
    table = named.split(":")[0]
    expected = {
        "the top level": "routes, profiles",
        "route 'main'": "provider, model, base_url, api_key_env, weight, provider_options",
        "profile 'p'": "routes, strategy, cooldown",
    }
    if "rate_limit" in named:
        assert "requests_per_minute, max_concurrent" in allowed
    else:
        assert expected[table] in allowed


ROUTE = '[routes.main]\nprovider = "openai"\n'
PROFILE = ROUTE + '[profiles.p]\nroutes = ["main"]\n'


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            ROUTE + "weight = -1\n",
            "route 'main': weight is the number -1: it must be a number more than 0",
        ),
        (ROUTE + "weight = inf\n", "weight is the number inf: it must be a number more than 0"),
        (ROUTE + 'weight = "2"\n', "weight is a string: it must be a number more than 0"),
        (ROUTE + "weight = true\n", "weight is a boolean (true)"),
        ("[routes.main]\nmodel = 'x'\n", "route 'main': provider is missing"),
        ('[routes.main]\nprovider = " "\n', "provider is a string: it must be a provider name"),
        (ROUTE + "model = 3\n", "model is the number 3: it must be a model name (a string)"),
        (ROUTE + "provider_options = 3\n", "provider_options is the number 3: it must be a table"),
        (
            ROUTE + "rate_limit = { max_concurrent = 0 }\n",
            "rate_limit.max_concurrent is the number 0",
        ),
        (ROUTE + "rate_limit = { max_concurrent = 1.5 }\n", "max_concurrent is the number 1.5"),
        (
            ROUTE + "rate_limit = { requests_per_minute = -5 }\n",
            "requests_per_minute is the number -5",
        ),
        (
            "[routes]\nmain = 3\n",
            "route 'main' is the number 3: it must be a table ([routes.main])",
        ),
        ('routes = ["a"]\n', "routes is an array: it must be a table ([routes.NAME])"),
        ("[profiles]\np = 1\n", "profile 'p' is the number 1: it must be a table ([profiles.p])"),
        (
            PROFILE + 'strategy = "random"\n',
            "profile 'p': strategy is 'random': it must be one of 'ordered', 'weighted'",
        ),
        (PROFILE + "strategy = 1\n", "strategy is the number 1: it must be one of"),
        (
            PROFILE + "cooldown = -1\n",
            "profile 'p': cooldown is the number -1: it must be 0 or more seconds",
        ),
        (PROFILE + "cooldown = nan\n", "cooldown is the number nan"),
        (
            ROUTE + "[profiles.p]\nroutes = []\n",
            "profile 'p': routes is empty: it must be a non-empty array",
        ),
        (ROUTE + "[profiles.p]\nstrategy = 'ordered'\n", "profile 'p': routes is missing"),
        (
            ROUTE + "[profiles.p]\nroutes = [1]\n",
            "routes is an array: it must be a non-empty array of route names",
        ),
        (
            ROUTE + '[profiles.p]\nroutes = ["main", "main"]\n',
            "profile 'p': names route 'main' more than once",
        ),
    ],
)
def test_a_bad_value_names_the_field_and_what_is_allowed(
    tmp_path: Path, text: str, named: str
) -> None:
    assert named in refusal(tmp_path, text)


def test_a_toml_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[routes.main]\nprovider = "openai"\nmodel = \n')
    assert "not valid TOML" in message
    assert "line 3" in message


def test_an_unreadable_file_is_a_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigurationError, match="cannot read it") as info:
        load_config(missing)
    assert str(missing) in str(info.value)


def test_a_profile_naming_an_undefined_route_says_which_are_defined(tmp_path: Path) -> None:
    text = EXAMPLE + '[profiles.broken]\nroutes = ["main", "spare"]\n'
    message = refusal(tmp_path, text)
    assert "profile 'broken': no route 'spare'" in message
    assert "the routes defined: 'main', 'backup'" in message


def test_an_unknown_profile_lists_the_files_profiles(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    with pytest.raises(ConfigurationError) as info:
        load_profile("fast", path)
    message = str(info.value)
    assert str(path) in message
    assert "no profile 'fast'" in message
    assert "'default', 'cheap'" in message
    with pytest.raises(ConfigurationError, match="the profiles in this file: none"):
        load_profile("default", write(tmp_path / "empty", ""))


# -- where the file is looked for ---------------------------------------------------------------
@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory deep below tmp_path, with no imagebridge.toml above it yet."""
    work = tmp_path / "project" / "sub" / "deeper"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    if any((folder / "imagebridge.toml").is_file() for folder in tmp_path.parents):
        pytest.skip("an imagebridge.toml above the test folder would be found")
    return work


def test_nothing_found_is_none_and_load_config_names_the_places(home: Path) -> None:
    assert find_config() is None
    with pytest.raises(ConfigurationError) as info:
        load_config()
    message = str(info.value)
    assert "IMAGEBRIDGE_CONFIG (not set)" in message
    assert f"imagebridge.toml in {home} and its parents" in message
    assert "no-user-config/imagebridge/imagebridge.toml" in message


def test_the_working_directory_then_its_nearest_parent(home: Path) -> None:
    far = write(home.parent.parent, EXAMPLE)
    assert find_config() == far
    near = write(home.parent, EXAMPLE)
    assert find_config() == near
    here = write(home, EXAMPLE)
    assert find_config() == here
    assert load_config().path == here


@linux_only
def test_the_user_config_directory_comes_last(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    user = write(tmp_path / "config" / "imagebridge", EXAMPLE)
    assert find_config() == user
    assert load_profile("cheap").source == user
    parent = write(home.parent, EXAMPLE)
    assert find_config() == parent


def test_imagebridge_config_comes_first(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(home, EXAMPLE)
    chosen = write(tmp_path / "elsewhere", EXAMPLE, name="mine.toml")
    monkeypatch.setenv("IMAGEBRIDGE_CONFIG", str(chosen))
    assert find_config() == chosen
    assert load_profile("default").source == chosen
    missing = tmp_path / "gone.toml"
    monkeypatch.setenv("IMAGEBRIDGE_CONFIG", str(missing))
    with pytest.raises(ConfigurationError) as info:
        find_config()
    assert f"IMAGEBRIDGE_CONFIG='{missing}': no such file" in str(info.value)


# -- from_profile end to end ---------------------------------------------------------------------
def two_routes(pair: Pair, key_a_env: str = "PROFILE_KEY_A") -> str:
    return f"""
[routes.a]
provider = "openai"
base_url = "{pair.a.url("openai")}"
api_key_env = "{key_a_env}"

[routes.b]
provider = "openai"
base_url = "{pair.b.url("openai")}"
api_key_env = "PROFILE_KEY_B"

[profiles.default]
routes = ["a", "b"]
cooldown = 0
"""


async def generate_once(mode: str, name: str, config: Path | None = None) -> ImageResult:
    options: dict[str, Any] = dict(OPTIONS)
    if mode == "sync":
        with ImageClient.from_profile(name, config=config, **options) as client:
            assert isinstance(client, RoutedImageClient)
            return client.generate(PROMPT)
    async with AsyncImageClient.from_profile(name, config=config, **options) as aclient:
        assert isinstance(aclient, AsyncRoutedImageClient)
        return await aclient.generate(PROMPT)


@pytest.mark.anyio
async def test_from_profile_serves_from_the_first_route_with_its_named_key(
    mode: str, pair: Pair, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILE_KEY_A", KEY_A)
    monkeypatch.setenv("PROFILE_KEY_B", KEY_B)
    write(home, two_routes(pair))  # found in the working directory
    result = await generate_once(mode, "default")
    assert result.route == "a"
    assert len(result.images) == 1
    assert pair.accepted() == (1, 0)


@pytest.mark.anyio
async def test_from_profile_reads_the_key_from_the_variable_the_route_names(
    mode: str, pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Route a's variable holds B's key: emulator A refuses it, and the job moves on to b.
    monkeypatch.setenv("PROFILE_KEY_A", KEY_A)
    monkeypatch.setenv("PROFILE_WRONG", KEY_B)
    monkeypatch.setenv("PROFILE_KEY_B", KEY_B)
    path = write(tmp_path / "cfg", two_routes(pair, key_a_env="PROFILE_WRONG"))
    result = await generate_once(mode, "default", config=path)
    assert result.route == "b"
    assert [w.code for w in result.warnings] == ["route_failed"]
    assert "AuthenticationError" in str(result.warnings[0])
    assert pair.accepted() == (0, 1)


def test_from_profile_with_an_unset_variable_names_it(
    pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROFILE_KEY_A", raising=False)
    monkeypatch.setenv("PROFILE_KEY_B", KEY_B)
    path = write(tmp_path / "cfg", two_routes(pair))
    with (
        pytest.raises(ConfigurationError, match="api_key_env='PROFILE_KEY_A'"),
        ImageClient.from_profile("default", config=path, **OPTIONS) as client,
    ):
        client.generate(PROMPT)
    assert pair.submits() == (0, 0)


def test_from_profile_takes_the_same_arguments_on_both_clients() -> None:
    sync = inspect.signature(ImageClient.from_profile)
    other = inspect.signature(AsyncImageClient.from_profile)
    assert list(sync.parameters) == list(other.parameters) == ["name", "config", "options"]
    assert sync.parameters["config"].kind is inspect.Parameter.KEYWORD_ONLY


def test_from_profile_of_an_unknown_profile_sends_nothing(pair: Pair, tmp_path: Path) -> None:
    path = write(tmp_path / "cfg", two_routes(pair))
    with pytest.raises(ConfigurationError, match="no profile 'fast'"):
        ImageClient.from_profile("fast", config=path, **OPTIONS)
    assert pair.submits() == (0, 0)


def test_the_docs_example_runs_beside_its_file(
    pair: Pair, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (Path(__file__).parents[2] / "docs" / "concepts" / "routes.md").read_text()
    section = page.split("\n## Profiles\n", 1)[1]
    toml = re.search(r"```toml\n(.*?)```", section, re.S)
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert toml is not None
    assert code is not None
    write(home, toml.group(1))
    monkeypatch.setenv("OPENAI_BASE_URL", pair.a.url("openai"))
    monkeypatch.setenv("OPENAI_API_KEY", KEY_A)
    monkeypatch.setenv("DIMILINKS_BASE_URL", pair.b.url("dimilinks"))
    monkeypatch.setenv("DIMILINKS_BACKUP_KEY", KEY_B)
    exec(compile(code.group(1), "<routes.md Profiles>", "exec"), {"__name__": "__docs__"})  # noqa: S102
    assert capsys.readouterr().out == "main\n"
    assert pair.accepted() == (1, 0)
    spread = load_profile("spread")
    assert (spread.strategy, spread.cooldown) == ("weighted", 60.0)
    assert spread.routes[0].rate_limit == RateLimit(requests_per_minute=300, max_concurrent=4)


# -- the journal's default folder ----------------------------------------------------------------
@linux_only
def test_the_journal_defaults_to_the_user_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMAGEBRIDGE_JOURNAL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_journal_path() == tmp_path / "data" / "imagebridge" / "journal.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "share" / "imagebridge" / "journal.sqlite3"
    assert default_journal_path() == expected
    assert not (tmp_path / "home").exists()  # a path only: nothing is created
    monkeypatch.setenv("IMAGEBRIDGE_JOURNAL", "off")
    assert default_journal_path() is None
