"""User-facing errors: one message that names the problem and the fix, printed without a traceback."""
from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A mistake in the config, the data or the command line that the user can fix."""


class ConfigError(UserError):
    """An invalid combination or value in the composed config."""


class DataError(UserError):
    """Missing or malformed data on disk."""


def missing_data(name: str, path: Path | str, layout: str, source: str) -> DataError:
    """Build the error for a data set that is not where the config says it is."""
    return DataError(
        f"{name} not found at {path}.\n"
        f"Expected layout:\n{layout.rstrip()}\n"
        f"Get it from: {source}\n"
        f"Set the root with `paths.data_dir=/your/data` (or the environment variable ASH_DATA)."
    )


def unknown_choice(kind: str, value: str, valid: list[str], hint: str = "") -> ConfigError:
    """Build the error for a name that is not one of the valid options."""
    extra = f" {hint}" if hint else ""
    return ConfigError(f"Unknown {kind} '{value}'. Valid options: {', '.join(sorted(valid))}.{extra}")


class RunStopped(Exception):
    """A run stopped on purpose (non-finite loss or gradients), with a message that explains why."""
