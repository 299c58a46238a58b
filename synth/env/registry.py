"""The family registry: built-in families by name, other families through sources.

Families register themselves next to their code with `@register`; the `environments` package
imports its modules on first lookup, so adding a family is adding a file. A *source* resolves
references of the form `PREFIX:SPEC` (e.g. `synthesized:PATH`, model-written environments
loaded from a synthesis output); sources also register next to their code, so nothing that
runs families (the pipeline, a model stand-in) ever names one. A family may declare an options
model; `resolve_family(ref, options)` validates the options and builds the family once per
(reference, options) in a process.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from synth.env.family import EnvFamily

FamilySource = Callable[[str, Mapping[str, Any]], EnvFamily]
"""`source(spec, options)`: the family a reference `PREFIX:spec` names."""

_CLASSES: dict[str, type[EnvFamily]] = {}
_SOURCES: dict[str, FamilySource] = {}
_RESOLVED: dict[tuple[str, str], EnvFamily] = {}
_discovered = False


class FamilyOptionsError(ValueError):
    """Options a family rejects. `errors` are (dotted field, message) pairs."""

    def __init__(self, ref: str, errors: list[tuple[str, str]]) -> None:
        self.ref, self.errors = ref, errors
        super().__init__("; ".join(f"{where}: {message}" for where, message in errors))


def register(cls: type[EnvFamily]) -> type[EnvFamily]:
    """Class decorator: make a family available by its `name`."""
    name = getattr(cls, "name", None)
    if not name:
        raise ValueError(f"{cls.__name__} must set a class attribute `name`")
    if ":" in name:
        raise ValueError(f"family name {name!r} may not contain ':' (it marks a source)")
    if name in _CLASSES and _CLASSES[name] is not cls:
        raise ValueError(f"environment family {name!r} is registered twice")
    _CLASSES[name] = cls
    return cls


def register_source(prefix: str, source: FamilySource) -> None:
    """Resolve references `prefix:SPEC` with `source(SPEC, options)`."""
    if not prefix.isidentifier():
        raise ValueError(f"source prefix {prefix!r} must be an identifier")
    if prefix in _SOURCES and _SOURCES[prefix] is not source:
        raise ValueError(f"family source {prefix!r} is registered twice")
    _SOURCES[prefix] = source


def unregister(ref: str) -> None:
    """Forget the families built for `ref` (e.g. a synthesis output that was rewritten)."""
    for key in [k for k in _RESOLVED if k[0] == ref]:
        del _RESOLVED[key]


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    package = importlib.import_module("environments")
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
    _discovered = True


def family_names() -> list[str]:
    """Names of every registered family, sorted (sources are not listed)."""
    _discover()
    return sorted(_CLASSES)


def source_prefixes() -> list[str]:
    _discover()
    return sorted(_SOURCES)


def _options_key(options: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(options or {}), sort_keys=True, separators=(",", ":"), default=str)


def _build(ref: str, options: Mapping[str, Any]) -> EnvFamily:
    if ref in _CLASSES:
        cls = _CLASSES[ref]
        try:
            return cls(dict(options))
        except ValidationError as exc:
            raise FamilyOptionsError(ref, [(".".join(str(p) for p in e["loc"]) or "options",
                                            e["msg"]) for e in exc.errors()]) from None
    prefix, sep, spec = ref.partition(":")
    if sep and prefix in _SOURCES:
        return _SOURCES[prefix](spec, options)
    known = ", ".join(sorted(_CLASSES))
    prefixes = ", ".join(f"{p}:..." for p in sorted(_SOURCES))
    raise KeyError(f"unknown environment family {ref!r}; known: {known}"
                   + (f"; sources: {prefixes}" if prefixes else ""))


def resolve_family(ref: str, options: Mapping[str, Any] | None = None) -> EnvFamily:
    """The family `ref` names (a registered name or `PREFIX:SPEC`), built with `options`
    and shared within this process. KeyError: unknown; FamilyOptionsError: bad options."""
    _discover()
    key = (ref, _options_key(options))
    if key not in _RESOLVED:
        _RESOLVED[key] = _build(ref, options or {})
    return _RESOLVED[key]


def get_family(name: str) -> EnvFamily:
    """The shared, default-configured family called `name`."""
    return resolve_family(name)
