"""The family registry. Families register themselves next to their code with `@register`;
the `environments` package imports its modules on first lookup, so adding a family is adding
a file. Families built at run time (e.g. model-written ones) register a factory instead."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from synth.env.family import EnvFamily

FamilyFactory = Callable[[], EnvFamily]

_FACTORIES: dict[str, FamilyFactory] = {}
_INSTANCES: dict[str, EnvFamily] = {}
_discovered = False


def register(cls: type[EnvFamily]) -> type[EnvFamily]:
    """Class decorator: make a family available by its `name`."""
    name = getattr(cls, "name", None)
    if not name:
        raise ValueError(f"{cls.__name__} must set a class attribute `name`")
    if name in _FACTORIES and _FACTORIES[name] is not cls:
        raise ValueError(f"environment family {name!r} is registered twice")
    _FACTORIES[name] = cls
    return cls


def register_factory(name: str, factory: FamilyFactory) -> None:
    """Register a family built at run time (replaces an earlier one of the same name)."""
    _FACTORIES[name] = factory
    _INSTANCES.pop(name, None)


def unregister(name: str) -> None:
    """Forget a family registered at run time (e.g. a loaded synthesis output)."""
    _FACTORIES.pop(name, None)
    _INSTANCES.pop(name, None)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    package = importlib.import_module("environments")
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
    _discovered = True


def family_names() -> list[str]:
    """Names of every registered family, sorted."""
    _discover()
    return sorted(_FACTORIES)


def get_family(name: str) -> EnvFamily:
    """The (shared, default-configured) family called `name`."""
    _discover()
    if name not in _INSTANCES:
        if name not in _FACTORIES:
            known = ", ".join(sorted(_FACTORIES))
            raise KeyError(f"unknown environment family {name!r}; known: {known}")
        _INSTANCES[name] = _FACTORIES[name]()
    return _INSTANCES[name]
