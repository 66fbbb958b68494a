"""Secrets named by a sink's config (``password_env`` / ``password_file``), resolved at start."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigurationError


def resolve_password(section, *, field: str) -> str:
    env = getattr(section, "password_env", None)
    path = getattr(section, "password_file", None)
    if env and path:
        raise ConfigurationError(f"{field}: set password_env or password_file, not both", field=field)
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigurationError(f"{field}.password_env: environment variable {env} is not set", field=f"{field}.password_env")
        return value
    if path:
        try:
            return Path(path).read_text().rstrip("\n")
        except OSError as exc:
            raise ConfigurationError(f"{field}.password_file {path}: cannot read ({exc.strerror or exc})", field=f"{field}.password_file") from None
    return ""
