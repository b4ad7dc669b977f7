"""Typed, validated settings.

Two kinds of setting:

* Process settings (`Settings`): where the data and config directories are,
  from CLI options or ``C360_*`` environment variables.
* Config files in ``config/``: non-secret, versioned JSON, each validated by a
  pydantic model owned by the module that uses it.  Any key of a config file
  can be overridden from the environment as
  ``C360_<FILE STEM>__<KEY>__<SUBKEY>=<JSON value>``, for example
  ``C360_SILVER_TO_GOLD_METRICS__CLV__GROSS_MARGIN=0.55``.

A bad file stops the run before anything is written, with a `ConfigError`
naming the file, the key and the problem.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from etl.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="C360_", extra="ignore")

    data_dir: Path = Path("data")
    config_dir: Path = REPO_ROOT / "config"

    @classmethod
    def from_options(cls, data_dir: Path | None = None, config_dir: Path | None = None) -> Settings:
        """Settings where command-line options given (not None) win over the environment and defaults."""
        given = {k: v for k, v in {"data_dir": data_dir, "config_dir": config_dir}.items() if v is not None}
        return cls(**given)


def _env_overrides(stem: str, environ: dict[str, str]) -> list[tuple[list[str], str]]:
    prefix = f"C360_{stem.upper()}__"
    out = []
    for name, value in environ.items():
        if name.upper().startswith(prefix):
            out.append(([p.lower() for p in name[len(prefix):].split("__")], value))
    return out


def _apply_override(doc: dict, path: list[str], raw: str, file: str, env_name: str) -> None:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare string
    node = doc
    for i, key in enumerate(path[:-1]):
        match = next((k for k in node if isinstance(node, dict) and k.lower() == key), None)
        if match is None or not isinstance(node[match], dict):
            raise ConfigError(file, ".".join(path[: i + 1]), f"environment override {env_name} names no such section")
        node = node[match]
    leaf = next((k for k in node if k.lower() == path[-1]), path[-1])
    node[leaf] = value


def _loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_config(path: Path, model: type[M], environ: dict[str, str] | None = None) -> M:
    """Read, override from the environment, and validate one JSON config file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "(file)", "file not found") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(file, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise ConfigError(file, "(top level)", "must be a JSON object")
    environ = os.environ if environ is None else environ
    for key_path, raw in _env_overrides(Path(path).stem, dict(environ)):
        _apply_override(doc, key_path, raw, file, "C360_" + Path(path).stem.upper() + "__" + "__".join(key_path).upper())
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise ConfigError(file, _loc(err["loc"]), err["msg"] + more) from None
