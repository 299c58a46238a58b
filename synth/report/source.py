"""Read a dataset's tables column by column, from a folder or any pyarrow filesystem URI.

Statistics never load whole rows: every read names its columns, and columns a dataset lacks
(older or newer schemas) are simply absent from the result instead of an error.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from synth.infra.storage import Output

SAMPLES = "data"
FAILED = "failed"
TASKS = "tasks"


class DatasetSource:
    """One dataset output: its Parquet tables (`data/`, `tasks/`) and its manifest."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.output = Output(uri)
        self._schemas: dict[str, pa.Schema] = {}

    def sample_files(self) -> list[str]:
        """Files of training samples and of failed trajectories (same schema), for browsing."""
        return self.files(SAMPLES) + self.files(FAILED)

    def files(self, folder: str) -> list[str]:
        """Full paths of the Parquet files of a table, sorted."""
        return [self.output.path(f"{folder}/{name}") for name in self.output.list(folder)
                if name.endswith(".parquet")]

    def schema(self, folder: str) -> pa.Schema:
        """The union of the files' schemas (files written by other versions may differ)."""
        if folder not in self._schemas:
            paths = self.sample_files() if folder == SAMPLES else self.files(folder)
            schemas = [pq.read_schema(path, filesystem=self.output.fs) for path in paths]
            self._schemas[folder] = pa.unify_schemas(schemas) if schemas else pa.schema([])
        return self._schemas[folder]

    def has_column(self, folder: str, name: str) -> bool:
        return name in self.schema(folder).names

    def columns(self, folder: str, names: list[str], *, filter: ds.Expression | None = None,
                empty: pa.Schema | None = None) -> pa.Table:
        """The named columns that exist (others skipped), from every file of the table; a
        table without files gives no rows, typed by `empty`."""
        files = self.files(folder)
        if not files:
            fields = [f for f in (empty or self.schema(folder)) if f.name in names]
            return pa.schema(fields).empty_table()
        present = [n for n in names if self.has_column(folder, n)]
        dataset = ds.dataset(files, schema=self.schema(folder), filesystem=self.output.fs,
                             format="parquet")
        return dataset.to_table(columns=present, filter=filter)

    def read_columns(self, path: str, names: list[str]) -> pa.Table:
        """The named columns (those that exist) of one sample file."""
        present = [n for n in names if self.has_column(SAMPLES, n)]
        return pq.read_table(path, columns=present, filesystem=self.output.fs)

    def read_rows(self, path: str, names: list[str], keep: ds.Expression) -> pa.Table:
        """Rows of one file that match `keep`, only the named columns that exist."""
        present = [n for n in names if self.has_column(SAMPLES, n)]
        dataset = ds.dataset([path], schema=self.schema(SAMPLES), filesystem=self.output.fs,
                             format="parquet")
        return dataset.to_table(columns=present, filter=keep)

    def manifest(self) -> dict[str, Any] | None:
        """manifest.json, or None when absent or unreadable (a report still works without)."""
        text = self.output.read_text("manifest.json")
        if not text:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None
