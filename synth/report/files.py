"""Writing a finished file so that readers see all of it or nothing, locally or on a store."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pyarrow import fs


def write_local_atomic(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file beside `path`, then rename it into place."""
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return path


def write_file(target: str, data: bytes) -> str:
    """A local path (atomic rename) or a filesystem URI such as s3://b/k (one PUT, atomic on
    object stores). Returns where the file went."""
    if "://" in target and not target.startswith("file://"):
        filesystem, path = fs.FileSystem.from_uri(target)
        with filesystem.open_output_stream(path) as stream:
            stream.write(data)
        return target
    return str(write_local_atomic(target.removeprefix("file://"), data))
