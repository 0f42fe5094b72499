"""The inputs of ``python -m imagebridge.testing record``: a TOML file and flags.

They are the inputs of :func:`~imagebridge.testing.record`. The file is
``tests/imagebridge-record.toml`` under the current directory (run the command from the
plugin's root, where pytest runs), or the one ``--config`` names::

    provider = "lumen"
    base_url = "https://api.lumen.example"
    out = "cassettes"                  # relative to this file (the default)
    api_key_env = "LUMEN_API_KEY"      # the default: <PROVIDER>_API_KEY
    ignore_json_paths = ["client_ref"]

    [not_applicable]
    result_url = "Lumen answers with base64 images only"

    [hints.content_policy]
    marker = "#fail=nsfw"              # and/or fields = {...}, model = "..."

Flags override the file (``--scenario`` replaces its list; ``--marker``,
``--not-applicable``, ``--secret-env`` and ``--ignore-json-path`` add to it). A key never
comes from the file or a flag: only from the environment variable ``api_key_env`` names.
An unknown key or scenario name is an error, so a typo cannot silently record without its
hint.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._adapter import Adapter
from .._toml import toml
from ._scenarios import SCENARIO_NAMES, Hint

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_CONFIG",
    "RecordConfig",
    "RecordConfigError",
    "RecordInputs",
    "find_config",
    "load_config",
    "pair",
    "resolve",
]

CONFIG_NAME = "imagebridge-record.toml"
#: Where ``record`` looks for the file when ``--config`` is not given (from the current dir).
DEFAULT_CONFIG = Path("tests") / CONFIG_NAME
_T = TypeVar("_T")
_KEY_FIELDS = frozenset({"api_key", "key", "token", "secret", "password"})


class RecordConfigError(ValueError):
    """A record configuration that cannot be used; the message says what to change."""


class HintConfig(BaseModel):
    """``[hints.<scenario>]``: how to record one scenario (see :class:`Hint`)."""

    model_config = ConfigDict(extra="forbid")

    marker: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    model: str | None = None


class RecordConfig(BaseModel):
    """The file's keys (each also a flag of ``record``)."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = None
    base_url: str | None = None
    #: The cassettes folder, relative to the file (default: ``cassettes`` beside it).
    out: Path | None = None
    api_key_env: str | None = None
    model: str | None = None
    scenarios: list[str] | None = None
    secret_env: list[str] = Field(default_factory=list)
    ignore_json_paths: list[str] = Field(default_factory=list)
    recorded_from: str | None = None
    timing: bool = True
    hints: dict[str, HintConfig] = Field(default_factory=dict)
    not_applicable: dict[str, str] = Field(default_factory=dict)


def _problems(error: ValidationError, source: str) -> str:
    """The validation errors by key, without the values (a value may be a pasted key)."""
    allowed = {
        (): ", ".join(RecordConfig.model_fields),
        ("hints",): ", ".join(HintConfig.model_fields),
    }
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        loc = tuple(str(part) for part in item["loc"])
        where = ".".join(loc) or "(top level)"
        if item["type"] == "extra_forbidden":
            parent = ("hints",) if loc[:1] == ("hints",) and len(loc) == 3 else ()
            lines.append(f"{where}: unknown key (the keys: {allowed[parent]})")
        else:
            lines.append(f"{where}: {item['msg']}")
    return f"{source}: " + "; ".join(lines)


def load_config(path: Path) -> RecordConfig:
    """Read and check a record configuration file; ``out`` is made relative to its folder."""
    reader = toml()
    try:
        data = reader.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RecordConfigError(f"{path}: cannot read it ({error.strerror})") from None
    except reader.TOMLDecodeError as error:
        raise RecordConfigError(f"{path}: not valid TOML: {error}") from None
    keys = sorted(_KEY_FIELDS & set(data))
    if keys:
        raise RecordConfigError(
            f"{path}: {keys[0]}: a key is never read from a file; put it in an environment"
            ' variable and name that variable: api_key_env = "<VARIABLE>" (more secrets to'
            " refuse in recordings: secret_env = [...])"
        )
    try:
        config = RecordConfig.model_validate(data)
    except ValidationError as error:
        raise RecordConfigError(_problems(error, str(path))) from None
    out = path.parent / (config.out or Path("cassettes"))
    return config.model_copy(update={"out": out})


def find_config(explicit: Path | None, cwd: Path | None = None) -> Path | None:
    """The file to read: ``explicit`` (which must exist), else :data:`DEFAULT_CONFIG` under
    ``cwd`` if it exists, else None."""
    if explicit is not None:
        if not explicit.is_file():
            raise RecordConfigError(f"--config {explicit}: no such file")
        return explicit
    default = (cwd or Path.cwd()) / DEFAULT_CONFIG
    return default if default.is_file() else None


def pair(text: str) -> tuple[str, str]:
    """``SCENARIO=VALUE`` of ``--marker`` and ``--not-applicable``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"expected SCENARIO=VALUE, got {text!r}")
    return name.strip(), value


@dataclass(frozen=True)
class RecordInputs:
    """Everything ``record`` is called with, resolved (the key still in its variable)."""

    provider: str
    base_url: str
    out: Path
    #: None: the variable the clients read, ``<PROVIDER>_API_KEY`` (``Adapter.env_prefix()``).
    api_key_env: str | None
    scenarios: list[str] | None
    hints: dict[str, Hint]
    not_applicable: dict[str, str]
    secret_env: list[str]
    model: str | None
    ignore_json_paths: list[str]
    recorded_from: str
    timing: bool

    def api_key(self, adapter_cls: type[Adapter]) -> str | None:
        """The key from :attr:`api_key_env`; a provider that needs one and has none is an
        error that names the variable (never a value)."""
        variable = self.api_key_env or f"{adapter_cls.env_prefix()}_API_KEY"
        key = os.environ.get(variable) or None
        if key is None and adapter_cls.requires_api_key:
            raise RecordConfigError(
                f"record: no API key: {variable} is not set; export it (or name another"
                " variable with --api-key-env / api_key_env)"
            )
        return key

    def secrets(self) -> list[str]:
        """The values of the ``secret_env`` variables that are set."""
        return [os.environ[name] for name in self.secret_env if os.environ.get(name)]


def _check_names(names: Sequence[str], where: str) -> None:
    unknown = [name for name in names if name not in SCENARIO_NAMES]
    if unknown:
        raise RecordConfigError(
            f"{where}: unknown scenario {unknown[0]!r}; the scenarios are"
            f" {', '.join(SCENARIO_NAMES)} (python -m imagebridge.testing scenarios)"
        )


def _hints(
    config: RecordConfig, markers: Sequence[tuple[str, str]], source: str
) -> dict[str, Hint]:
    merged = {name: hint.model_copy() for name, hint in config.hints.items()}
    for name, marker in markers:
        merged.setdefault(name, HintConfig()).marker = marker
    _check_names(list(config.hints), f"{source} [hints]")
    _check_names([name for name, _ in markers], "--marker")
    return {
        name: Hint(marker=hint.marker, fields=dict(hint.fields), model=hint.model)
        for name, hint in merged.items()
    }


def _required(name: str, value: _T | None) -> _T:
    if not value:
        raise RecordConfigError(
            f"record: no {name}: pass --{name.replace('_', '-')}, or set {name} in"
            f" {DEFAULT_CONFIG} (or in the file --config names)"
        )
    return value


def resolve(
    config: RecordConfig | None, flags: Mapping[str, Any], source: str = "the config"
) -> RecordInputs:
    """The inputs from the file's ``config`` (None: no file) and the ``flags`` given (None
    or empty: left out); ``source`` names the file in messages."""
    config = config or RecordConfig()
    provider = _required("provider", flags.get("provider") or config.provider)
    base_url = _required("base_url", flags.get("base_url") or config.base_url)
    out = _required("out", flags.get("out") or config.out)
    scenarios = flags.get("scenarios") or config.scenarios
    if scenarios is not None:
        _check_names(scenarios, "--scenario" if flags.get("scenarios") else f"{source} scenarios")
    not_applicable = {**config.not_applicable, **dict(flags.get("not_applicable") or ())}
    _check_names(list(config.not_applicable), f"{source} [not_applicable]")
    _check_names(list(dict(flags.get("not_applicable") or ())), "--not-applicable")
    return RecordInputs(
        provider=provider,
        base_url=base_url,
        out=Path(out),
        api_key_env=flags.get("api_key_env") or config.api_key_env,
        scenarios=list(scenarios) if scenarios is not None else None,
        hints=_hints(config, flags.get("markers") or (), source),
        not_applicable=not_applicable,
        secret_env=[*config.secret_env, *(flags.get("secret_env") or ())],
        model=flags.get("model") or config.model,
        ignore_json_paths=[*config.ignore_json_paths, *(flags.get("ignore_json_paths") or ())],
        recorded_from=flags.get("recorded_from")
        or config.recorded_from
        or f"live endpoint ({provider})",
        timing=config.timing and not flags.get("no_timing"),
    )
