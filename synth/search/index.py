"""The embedded search engine: a tantivy index of a corpus, built once, opened read-only.

An index is a folder: `tantivy/` (the engine's files, which store every document too, so the
folder is self-contained) and `meta.json` (written last: its presence means the index is
complete). Building is idempotent and atomic: a finished index is never rebuilt, and a build
that dies leaves only a temporary folder. An index may live at a URI (`s3://...`); it is then
built locally, uploaded, and fetched into a local cache to be opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth.search.corpus import Document

FORMAT = 1
META = "meta.json"
SEARCH_FIELDS = ["title", "aliases", "text"]
TITLE_BOOST = 2.0
LONG_TAIL_MAX_IN_LINKS = 2
LONG_TAIL_KEEP = 200_000
WRITER_HEAP = 128 * 1024 * 1024


@dataclass(frozen=True)
class Hit:
    """One ranked result: the document and its score."""

    document: Document
    score: float


@dataclass(frozen=True)
class Results:
    """The top hits of a query and how many documents match it in all."""

    hits: list[Hit]
    total: int


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True)
    builder.add_text_field("aliases", stored=True)
    builder.add_text_field("text", stored=True)
    builder.add_text_field("url", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("links", stored=True, tokenizer_name="raw", index_option="basic")
    return builder.build()


def is_uri(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def index_exists(location: str) -> bool:
    """True when a complete index is at `location` (its meta.json is written last)."""
    if is_uri(location):
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(location)
        return fs.get_file_info(f"{path}/{META}").type == pafs.FileType.File
    return (Path(location) / META).is_file()


def build_index(documents: Iterable[Document], location: str,
                meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Index `documents` at `location` unless a complete index is already there; return its
    meta. Documents need `links` (see `derive_links`) for the long-tail list."""
    if index_exists(location):
        return read_meta(location)
    local_parent = tempfile.gettempdir() if is_uri(location) else \
        os.path.dirname(os.path.abspath(location))
    os.makedirs(local_parent, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".index-build-", dir=local_parent))
    try:
        info = _write(documents, work, meta or {})
        if is_uri(location):
            import pyarrow.fs as pafs

            fs, path = pafs.FileSystem.from_uri(location)
            fs.create_dir(path, recursive=True)
            pafs.copy_files(str(work / "tantivy"), f"{path.rstrip('/')}/tantivy",
                            source_filesystem=pafs.LocalFileSystem(),
                            destination_filesystem=fs)
            with fs.open_output_stream(f"{path}/{META}") as out:  # last: marks it complete
                out.write(json.dumps(info).encode())
        else:
            try:
                os.rename(work, location)  # atomic; fails if another build finished first
            except OSError:
                if not index_exists(location):
                    raise
        return read_meta(location)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write(documents: Iterable[Document], folder: Path, meta: dict[str, Any]) -> dict[str, Any]:
    import tantivy

    started = time.perf_counter()
    (folder / "tantivy").mkdir()
    index = tantivy.Index(_schema(), path=str(folder / "tantivy"))
    writer = index.writer(heap_size=WRITER_HEAP, num_threads=1)  # one thread: stable order
    ids: list[str] = []  # documents stream through: only ids and link counts stay in memory
    degrees: Counter[str] = Counter()
    for doc in documents:
        writer.add_document(tantivy.Document(
            id=doc.id, title=doc.title, aliases=list(doc.aliases) or [""], text=doc.text,
            url=doc.url, links=list(doc.links or ()) or [""]))
        ids.append(doc.id)
        degrees.update(set(doc.links or ()))
    writer.commit()
    writer.wait_merging_threads()
    long_tail = [i for i in ids if degrees.get(i, 0) <= LONG_TAIL_MAX_IN_LINKS]
    info = {"format": FORMAT, "documents": len(ids), "long_tail": long_tail[:LONG_TAIL_KEEP],
            "build_s": round(time.perf_counter() - started, 3), **meta}
    (folder / META).write_text(json.dumps(info), encoding="utf-8")
    return info


def read_meta(location: str) -> dict[str, Any]:
    if is_uri(location):
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(location)
        with fs.open_input_stream(f"{path}/{META}") as handle:
            return json.loads(handle.read())
    return json.loads((Path(location) / META).read_text(encoding="utf-8"))


def local_copy(location: str, cache_dir: str) -> str:
    """A local folder holding the index at `location` (fetched once for a URI)."""
    if not is_uri(location):
        return location.removeprefix("file://")
    import pyarrow.fs as pafs

    key = hashlib.sha256(location.encode()).hexdigest()[:16]
    target = Path(cache_dir) / f"index-{key}"
    if (target / META).is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target.parent))
    try:
        fs, path = pafs.FileSystem.from_uri(location)
        pafs.copy_files(path.rstrip("/"), str(work), source_filesystem=fs,
                        destination_filesystem=pafs.LocalFileSystem())
        try:
            os.rename(work, target)
        except OSError:
            if not (target / META).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return str(target)


class SearchIndex:
    """A read-only tantivy index: ranked search and documents by id (thread-safe)."""

    def __init__(self, folder: str) -> None:
        import tantivy

        self.folder = folder
        self.meta = read_meta(folder)
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"{folder}: index format {self.meta.get('format')} is not "
                             f"{FORMAT}; rebuild it")
        self._tantivy = tantivy
        self.index = tantivy.Index.open(str(Path(folder) / "tantivy"))
        self.schema = self.index.schema
        self.searcher = self.index.searcher()
        self._by_id: dict[str, Document] = {}
        self._lock = threading.Lock()

    @property
    def num_docs(self) -> int:
        return self.searcher.num_docs

    def parse(self, query: str) -> Any:
        """A tantivy query; malformed syntax is parsed leniently (never raises)."""
        parsed, _errors = self.index.parse_query_lenient(
            query, SEARCH_FIELDS, field_boosts={"title": TITLE_BOOST})
        return parsed

    def search(self, query: str, top_k: int) -> Results:
        """The `top_k` best documents for `query` and the number of matches."""
        if not query.strip():
            return Results([], 0)
        result = self.searcher.search(self.parse(query), top_k)
        hits = [Hit(self._document(self.searcher.doc(address)), score)
                for score, address in result.hits]
        return Results(hits, result.count)

    def get(self, doc_id: str) -> Document | None:
        """The document with this id, or None."""
        cached = self._by_id.get(doc_id)
        if cached is not None:
            return cached
        query = self._tantivy.Query.term_query(self.schema, "id", doc_id)
        found = self.searcher.search(query, 1).hits
        if not found:
            return None
        doc = self._document(self.searcher.doc(found[0][1]))
        with self._lock:
            if len(self._by_id) > 4096:
                self._by_id.clear()
            self._by_id[doc_id] = doc
        return doc

    @staticmethod
    def _document(stored: Any) -> Document:
        links, aliases = stored.get_all("links"), stored.get_all("aliases")
        return Document(stored.get_first("id"), stored.get_first("title"),
                        stored.get_first("text"), stored.get_first("url") or "",
                        tuple(links) if links != [""] else (),
                        tuple(aliases) if aliases != [""] else ())
