"""Family references: built-in names, sources, options validated and cached per value."""

from __future__ import annotations

import pytest
from pydantic import Field

from synth.env import (
    EnvFamily,
    FamilyOptionsError,
    family_names,
    register,
    register_source,
    registry,
    resolve_family,
    source_prefixes,
)
from synth.env.family import FamilyOptions
from synth.pipeline.config import ConfigError, parse_config
from synth.pipeline.validate import check_families


class SizedOptions(FamilyOptions):
    size: int = Field(3, ge=1)


class SizedFamily(EnvFamily):
    """A family whose only purpose is to take options."""

    name = "test_sized"
    description = "test family with options"
    Options = SizedOptions


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch):
    """Register test families and sources for one test only (other suites list families)."""
    family_names()  # discover the catalog first, into the real registry
    monkeypatch.setattr(registry, "_CLASSES", dict(registry._CLASSES))
    monkeypatch.setattr(registry, "_SOURCES", dict(registry._SOURCES))
    monkeypatch.setattr(registry, "_RESOLVED", {})
    register(SizedFamily)


def test_options_are_validated_and_families_cached_per_options() -> None:
    default = resolve_family("test_sized")
    assert default is resolve_family("test_sized", {}) is resolve_family("test_sized", None)
    assert default.options.size == 3
    big = resolve_family("test_sized", {"size": 9})
    assert big is resolve_family("test_sized", {"size": 9}) and big is not default
    assert big.options.size == 9
    with pytest.raises(FamilyOptionsError) as caught:
        resolve_family("test_sized", {"size": 0})
    assert caught.value.errors[0][0] == "size"


def test_bad_options_name_the_field_in_the_job_config() -> None:
    config = parse_config({"output": "/tmp/x", "families": [
        {"name": "bank", "tasks": 1}, {"name": "test_sized", "tasks": 1,
                                       "options": {"size": "many"}}]})
    with pytest.raises(ConfigError, match=r"families\.1\.options\.size"):
        check_families(config)
    good = parse_config({"output": "/tmp/x", "families": [
        {"name": "test_sized", "tasks": 1, "options": {"size": 5}}]})
    assert check_families(good)["test_sized"].options.size == 5


def test_sources_resolve_prefixed_references() -> None:
    made = []

    def source(spec, options):
        family = SizedFamily({"size": len(spec)})
        made.append(spec)
        return family

    register_source("test_src", source)
    assert "test_src" in source_prefixes() and "synthesized" in source_prefixes()
    first = resolve_family("test_src:abcd")
    assert first.options.size == 4 and resolve_family("test_src:abcd") is first
    assert made == ["abcd"]
    with pytest.raises(KeyError, match=r"sources: .*synthesized:"):
        resolve_family("nosuch:thing")
    assert "test_src:abcd" not in family_names()
