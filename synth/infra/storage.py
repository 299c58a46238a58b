"""Where output is written: a local folder or any pyarrow filesystem URI (s3://, gs://...).

Exactly once: a work unit's files have deterministic names and become visible whole. Locally
they are written under `_tmp/` with a unique name and renamed into place; on object stores a
single PUT is already atomic, so the data goes to its final key directly. In both cases a commit
marker `_commits/<unit>.json` is written *after* the data: a unit counts as done only when its
marker exists, and a rerun rewrites an uncommitted unit's files with identical content. A unit
that failed leaves `_errors/<unit>.json`, removed once the unit commits.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs

COMMITS = "_commits"
ERRORS = "_errors"
TMP = "_tmp"
MARKER = ".json"


class Output:
    """A dataset location with atomic file commits."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        if "://" in uri and not uri.startswith("file://"):
            self.fs, self.root = fs.FileSystem.from_uri(uri)
            self.local = False
        else:
            path = uri.removeprefix("file://")
            self.fs, self.root = fs.LocalFileSystem(), str(Path(path).expanduser().resolve())
            self.local = True
        self.root = self.root.rstrip("/")

    def path(self, relative: str) -> str:
        return posixpath.join(self.root, relative)

    def ensure(self) -> None:
        """Create the root folder (a no-op on object stores)."""
        self.fs.create_dir(self.root, recursive=True)

    # -- atomic writes -----------------------------------------------------------------------
    def _write(self, relative: str, write: Any) -> None:
        final = self.path(relative)
        if not self.local:
            write(final)
            return
        self.fs.create_dir(posixpath.dirname(final), recursive=True)
        self.fs.create_dir(self.path(TMP), recursive=True)
        temp = self.path(f"{TMP}/{uuid.uuid4().hex}-{posixpath.basename(relative)}")
        try:
            write(temp)
            self.fs.move(temp, final)
        finally:
            info = self.fs.get_file_info(temp)
            if info.type != fs.FileType.NotFound:
                self.fs.delete_file(temp)

    def write_table(self, relative: str, table: pa.Table) -> None:
        """Write a Parquet file that appears whole or not at all."""
        self._write(relative, lambda p: pq.write_table(table, p, filesystem=self.fs,
                                                       compression="zstd"))

    def write_text(self, relative: str, text: str) -> None:
        """Write a text file that appears whole or not at all."""
        self.write_bytes(relative, text.encode("utf-8"))

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a binary file (a plot) that appears whole or not at all."""
        def put(p: str) -> None:
            with self.fs.open_output_stream(p) as stream:
                stream.write(data)
        self._write(relative, put)

    def read_text(self, relative: str) -> str | None:
        try:
            with self.fs.open_input_stream(self.path(relative)) as stream:
                return stream.read().decode("utf-8")
        except (FileNotFoundError, OSError):
            return None

    def exists(self, relative: str) -> bool:
        return self.fs.get_file_info(self.path(relative)).type != fs.FileType.NotFound

    def list(self, folder: str) -> list[str]:
        """Names of the files in `folder` (relative to the root), sorted."""
        selector = fs.FileSelector(self.path(folder), allow_not_found=True)
        return sorted(posixpath.basename(i.path) for i in self.fs.get_file_info(selector)
                      if i.type == fs.FileType.File)

    def delete(self, relative: str) -> None:
        """Remove a file if it exists."""
        path = self.path(relative)
        if self.fs.get_file_info(path).type == fs.FileType.File:
            self.fs.delete_file(path)

    # -- unit commits ------------------------------------------------------------------------
    def commit(self, unit_id: str, record: dict[str, Any]) -> None:
        """Mark a unit done; call only after all its data files are written."""
        self.write_text(f"{COMMITS}/{unit_id}{MARKER}", json.dumps(record, sort_keys=True))

    def is_committed(self, unit_id: str) -> bool:
        return self.exists(f"{COMMITS}/{unit_id}{MARKER}")

    def committed_ids(self) -> set[str]:
        """Ids of every committed unit, from one listing (no marker is read)."""
        return {name[: -len(MARKER)] for name in self.list(COMMITS) if name.endswith(MARKER)}

    def read_commit(self, unit_id: str) -> dict[str, Any] | None:
        text = self.read_text(f"{COMMITS}/{unit_id}{MARKER}")
        return None if text is None else json.loads(text)

    def committed(self) -> dict[str, dict[str, Any]]:
        """Commit records of every committed unit, by unit id (one read per unit)."""
        records = {}
        for unit_id in sorted(self.committed_ids()):
            record = self.read_commit(unit_id)
            if record is not None:
                records[unit_id] = record
        return records

    def record_error(self, unit_id: str, error: dict[str, Any]) -> None:
        self.write_text(f"{ERRORS}/{unit_id}{MARKER}", json.dumps(error, sort_keys=True))

    def clear_error(self, unit_id: str) -> None:
        self.delete(f"{ERRORS}/{unit_id}{MARKER}")

    def error_ids(self) -> set[str]:
        return {name[: -len(MARKER)] for name in self.list(ERRORS) if name.endswith(MARKER)}

    def clean_tmp(self) -> None:
        """Remove leftovers of killed writers (never visible as data)."""
        if self.local and self.exists(TMP):
            self.fs.delete_dir(self.path(TMP))
