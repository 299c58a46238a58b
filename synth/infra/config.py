"""The strict config base every job config builds on: YAML loading, CLI overrides, URI checks.

Configs are pydantic models that reject unknown keys and validate at construction. Every error
is turned into one `ConfigError` whose message names the field (pydantic's location, dotted), so
the command line can say what is wrong and exit with code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

SUPPORTED_SCHEMES = ("file", "s3", "gs", "gcs", "hdfs", "abfs", "az")

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending field."""


class StrictModel(BaseModel):
    """A frozen config model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One line per problem, each starting with the dotted field it is about."""
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in (*([prefix] if prefix else []), *item["loc"]))
        lines.append(f"{where or '(root)'}: {item['msg']}")
    return "; ".join(lines)


def check_output_uri(value: str) -> str:
    """A local path, or a URI of a filesystem pyarrow can write to, naming a bucket or path."""
    if "://" in value:
        scheme, rest = value.split("://", 1)
        if scheme not in SUPPORTED_SCHEMES:
            raise ValueError(f"unsupported URI scheme {scheme!r}; use a local path or one of "
                             f"{', '.join(SUPPORTED_SCHEMES)}")
        if not rest.strip("/"):
            raise ValueError("URI has no bucket or path")
    return value


OutputURI = Annotated[str, Field(min_length=1, description="a local path or a URI "
                                                         "(s3://bucket/prefix, gs://...)"),
                      AfterValidator(check_output_uri)]
"""Where a job writes: checked at construction."""


def redact_uri(uri: str) -> str:
    """The URI without credentials (user:secret@) and query parameters."""
    if "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    rest = rest.split("?", 1)[0]
    host, _, path = rest.partition("/")
    host = host.rsplit("@", 1)[-1]
    return f"{scheme}://{host}/{path}" if path else f"{scheme}://{host}"


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of `data` with dotted fields (`ray.address`) set to the given values."""
    merged = dict(data)
    for dotted, value in (overrides or {}).items():
        node = merged
        *parents, leaf = dotted.split(".")
        for part in parents:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[leaf] = value
    return merged


def validate_config(model: type[M], data: dict[str, Any],
                    overrides: dict[str, Any] | None = None) -> M:
    """Validate a mapping (plus dotted overrides) into `model`; ConfigError names the field."""
    try:
        return model.model_validate(apply_overrides(data, overrides))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping at the top level."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def load_config_file(model: type[M], path: str | Path,
                     overrides: dict[str, Any] | None = None) -> M:
    """Read and validate a YAML config file."""
    return validate_config(model, read_yaml_mapping(path), overrides)
