"""`synth --version`."""

from __future__ import annotations

import typer


def print_version(value: bool) -> None:
    """Eager option callback: print the version and exit."""
    if value:
        from synth import __version__

        typer.echo(f"synth {__version__}")
        raise typer.Exit()
