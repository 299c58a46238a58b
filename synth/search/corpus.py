"""The corpus format: one document per row with `id`, `title`, `text`, optional `url`,
optional `links` (ids of other documents) and optional `aliases` (other names of the subject).

These are the columns of the Hugging Face `wikimedia/wikipedia` dumps (which lack `links` and
`aliases`), so a team's Wikipedia Parquet works as it is. Files are Parquet (a file or a folder
of files) or JSON Lines, on a local path or any pyarrow filesystem URI (`s3://...`). Where
`links` is absent they are derived from mentions of other titles (see `synth.search.links`).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

REQUIRED = ("id", "title", "text")
OPTIONAL = ("url", "links", "aliases")
SCHEMA = pa.schema([("id", pa.string()), ("title", pa.string()), ("text", pa.string()),
                    ("url", pa.string()), ("links", pa.list_(pa.string())),
                    ("aliases", pa.list_(pa.string()))])


@dataclass(frozen=True)
class Document:
    """One page of the corpus. `links` is None when the source did not say."""

    id: str
    title: str
    text: str
    url: str = ""
    links: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def to_row(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "text": self.text, "url": self.url,
                "links": list(self.links) if self.links is not None else None,
                "aliases": list(self.aliases)}


class CorpusError(ValueError):
    """A corpus that does not follow the format; the message names the file, row and column."""


def is_parquet(source: str) -> bool:
    return source.rstrip("/").endswith(".parquet") or _is_dir(source)


def _is_dir(source: str) -> bool:
    if "://" not in source:
        return Path(source).is_dir()
    import pyarrow.fs as pafs

    fs, path = pafs.FileSystem.from_uri(source)
    return fs.get_file_info(path).type == pafs.FileType.Directory


def read_corpus(source: str, batch_rows: int = 4096) -> Iterator[Document]:
    """Documents of a Parquet or JSON Lines corpus, in file order. Raises CorpusError."""
    seen: set[str] = set()
    for offset, batch in _batches(source, batch_rows):
        names = set(batch.schema.names)
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise CorpusError(f"{source}: missing column(s) {missing}; columns are "
                              f"{sorted(names)}; required: {list(REQUIRED)}")
        columns = {c: batch.column(c).to_pylist() for c in (*REQUIRED, *OPTIONAL) if c in names}
        for i in range(batch.num_rows):
            doc = _document(source, offset + i, {c: v[i] for c, v in columns.items()})
            if doc.id in seen:
                raise CorpusError(f"{source}: row {offset + i}: duplicate id {doc.id!r}")
            seen.add(doc.id)
            yield doc


def read_names(source: str, batch_rows: int = 4096) -> Iterator[tuple[str, list[str], bool]]:
    """(id, title and aliases, whether links are given) of every document: the cheap first
    pass of a streamed link derivation (Parquet reads only these columns). Malformed rows are
    skipped here; `read_corpus` reports them."""
    for _, batch in _batches(source, batch_rows, columns=("id", "title", "aliases", "links")):
        columns = {c: batch.column(c).to_pylist() for c in batch.schema.names}
        none = [None] * batch.num_rows
        for doc_id, title, aliases, links in zip(
                columns.get("id", none), columns.get("title", none),
                columns.get("aliases", none), columns.get("links", none), strict=True):
            if isinstance(doc_id, str) and isinstance(title, str):
                extra = [a for a in aliases or () if isinstance(a, str)]
                yield doc_id, [title, *extra], links is not None


def _document(source: str, row: int, values: dict[str, Any]) -> Document:
    for column in REQUIRED:
        if not isinstance(values.get(column), str):
            raise CorpusError(f"{source}: row {row}: column {column!r} must be a string, got "
                              f"{type(values.get(column)).__name__}")
    if not values["id"]:
        raise CorpusError(f"{source}: row {row}: column 'id' is empty")
    for column in ("links", "aliases"):
        value = values.get(column)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value)):
            raise CorpusError(f"{source}: row {row}: column {column!r} must be a list of "
                              "strings")
    url = values.get("url")
    links = values.get("links")
    return Document(values["id"], values["title"], values["text"],
                    url if isinstance(url, str) else "",
                    tuple(links) if links is not None else None,
                    tuple(values.get("aliases") or ()))


def _batches(source: str, batch_rows: int, columns: Sequence[str] | None = None,
             ) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Record batches of at most `batch_rows` rows; Parquet reads only `columns` (those
    present) when given."""
    offset = 0
    if is_parquet(source):
        import pyarrow.dataset as ds

        try:
            dataset = ds.dataset(source, format="parquet")
        except (OSError, pa.ArrowInvalid) as exc:
            raise CorpusError(f"{source}: cannot read Parquet: {exc}") from exc
        chosen = None if columns is None else [c for c in columns
                                               if c in dataset.schema.names]
        batches: Iterable[pa.RecordBatch] = dataset.to_batches(batch_size=batch_rows,
                                                               columns=chosen)
    elif source.endswith((".jsonl", ".json", ".jsonl.gz", ".ndjson")):
        batches = _json_batches(source, batch_rows)
    else:
        raise CorpusError(f"{source}: unknown corpus format (expected .parquet, a folder of "
                          "Parquet files, or .jsonl)")
    for batch in batches:
        yield offset, batch
        offset += batch.num_rows


def _json_batches(source: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    rows: list[dict[str, Any]] = []
    with _lines(source) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{source}: line {number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise CorpusError(f"{source}: line {number}: not a JSON object")
            rows.append(row)
            if len(rows) == batch_rows:
                yield _rows_batch(rows)
                rows = []
    if rows:
        yield _rows_batch(rows)


def _rows_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    names = list(dict.fromkeys(k for row in rows for k in row))
    return pa.RecordBatch.from_pydict({k: [row.get(k) for row in rows] for k in names})


@contextlib.contextmanager
def _lines(source: str) -> Iterator[Any]:
    """The text lines of a local or remote file, gunzipped when it ends in `.gz`."""
    with contextlib.ExitStack() as stack:
        if "://" in source:
            import pyarrow.fs as pafs

            fs, path = pafs.FileSystem.from_uri(source)
            raw: Any = stack.enter_context(fs.open_input_stream(path))
        else:
            raw = stack.enter_context(open(source, "rb"))
        if source.endswith(".gz"):
            raw = stack.enter_context(gzip.GzipFile(fileobj=raw))
        yield io.TextIOWrapper(raw, encoding="utf-8")


def write_corpus(documents: Iterable[Document], target: str) -> str:
    """Write documents as Parquet (`.parquet`) or JSON Lines (`.jsonl`), atomically."""
    rows = [d.to_row() for d in documents]
    if target.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        write_atomically(target, lambda path: pq.write_table(table, path))
    elif target.endswith(".jsonl"):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        write_atomically(target, lambda path: Path(path).write_text(text, encoding="utf-8"))
    else:
        raise CorpusError(f"{target}: write .parquet or .jsonl")
    return target


def write_atomically(target: str, write: Any) -> None:
    """Write to a temporary name beside `target`, then rename: never a partial file."""
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=Path(target).suffix)
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
