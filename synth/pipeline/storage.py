"""Where a dataset is written: a local folder or any pyarrow filesystem URI (s3://, gs://...).

Exactly once: a shard's files have deterministic names and become visible whole. Locally they
are written under `_tmp/` with a unique name and renamed into place; on object stores a single
PUT is already atomic, so the data goes to its final key directly. In both cases a commit
marker `_commits/<shard>.json` is written *after* the data: a shard counts as done only when
its marker exists, and a rerun rewrites an uncommitted shard's files with identical content.
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
TMP = "_tmp"


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
        def put(p: str) -> None:
            with self.fs.open_output_stream(p) as stream:
                stream.write(text.encode("utf-8"))
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

    # -- shard commits -----------------------------------------------------------------------
    def commit(self, shard_id: str, record: dict[str, Any]) -> None:
        """Mark a shard done; call only after all its data files are written."""
        self.write_text(f"{COMMITS}/{shard_id}.json", json.dumps(record, sort_keys=True))

    def committed(self) -> dict[str, dict[str, Any]]:
        """Commit records of every committed shard, by shard id."""
        records = {}
        for name in self.list(COMMITS):
            if name.endswith(".json"):
                text = self.read_text(f"{COMMITS}/{name}")
                if text:
                    records[name[: -len(".json")]] = json.loads(text)
        return records

    def clean_tmp(self) -> None:
        """Remove leftovers of killed writers (never visible as data)."""
        if self.local and self.exists(TMP):
            self.fs.delete_dir(self.path(TMP))
