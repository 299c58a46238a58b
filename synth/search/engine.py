"""From options to working search tools: read (or generate) the corpus, derive its links,
build its index once at a deterministic location, open it (or connect to a service).

`index_location(options)` is a pure function of the options, so every worker of a job finds
the same index; `ensure_index(options)` is idempotent (the build stage and a lazy first use
may both call it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from synth.search.backend import EmbeddedBackend, HttpBackend, SearchBackend
from synth.search.corpus import Document, read_corpus, read_names
from synth.search.facts import GENERIC_PATTERNS, FactPattern
from synth.search.index import SearchIndex, build_index, index_exists, local_copy
from synth.search.options import SearchOptions
from synth.search.tools import SearchTools

GENERATOR_VERSION = 2  # bump when the encyclopedia's text changes
BATCH_ROWS = 4096  # documents per batch read from a corpus file


def corpus_documents(options: SearchOptions, batch_rows: int = BATCH_ROWS) -> Iterator[Document]:
    """The corpus as a stream of documents, with links derived where the source has none.
    A file corpus is read in batches, twice when it lacks links (names, then texts), so an
    index of any size builds in memory bounded by its names, not its text."""
    from synth.search.links import MentionLinker, names_of

    if options.corpus == "generated":  # generated in memory: one pass
        from synth.search.encyclopedia import generate_encyclopedia

        documents = generate_encyclopedia(options.corpus_seed, options.corpus_size)
        linker = MentionLinker(map(names_of, documents))
        yield from (linker.fill(doc) for doc in documents)
        return
    if options.corpus.startswith("dictd:"):
        names: Iterable[tuple[str, list[str], bool]] = (
            (*names_of(doc), doc.links is not None) for doc in _read(options, batch_rows))
    else:
        names = read_names(options.corpus, batch_rows)
    known, unlinked = [], False
    for doc_id, doc_names, has_links in names:
        known.append((doc_id, doc_names))
        unlinked = unlinked or not has_links
    linker = MentionLinker(known) if unlinked else None
    del known
    for doc in _read(options, batch_rows):
        yield linker.fill(doc) if linker is not None else doc


def _read(options: SearchOptions, batch_rows: int) -> Iterator[Document]:
    corpus = options.corpus
    if corpus.startswith("dictd:"):
        from synth.search.corpus import CorpusError
        from synth.search.dictd import find_dictionaries, read_dictd

        pairs = find_dictionaries(corpus.removeprefix("dictd:"))
        if not pairs:
            raise CorpusError(f"corpus {corpus!r}: no .index with a .dict[.dz] beside it")
        for index_path, dict_path in pairs:
            yield from read_dictd(index_path, dict_path)
    else:
        yield from read_corpus(corpus, batch_rows)


def corpus_patterns(options: SearchOptions) -> tuple[list[dict[str, Any]], bool]:
    """The fact patterns recorded with the index, and whether the generic facts (years, rare
    terms, mentions) apply: the encyclopedia has its own grammar; other corpora get the
    generic facts plus the patterns the options (or a known dictionary) give."""
    if options.corpus == "generated" and not options.patterns:
        from synth.search.encyclopedia import PATTERNS

        return [p.model_dump() for p in PATTERNS], False
    patterns = [p.model_dump() for p in options.patterns]
    if options.corpus.startswith("dictd:"):
        from synth.search.dictd import DICTIONARY_PATTERNS, find_dictionaries

        for index_path, _ in find_dictionaries(options.corpus.removeprefix("dictd:")):
            name = index_path.name.split(".")[0]
            patterns += [FactPattern.model_validate(p).model_dump()
                         for p in DICTIONARY_PATTERNS.get(name, [])]
    return patterns, True


def index_location(options: SearchOptions) -> str:
    """Where the index of these options lives: `options.index`, else a cache folder named by
    everything that changes its content."""
    if options.index:
        return options.index
    key: dict[str, Any] = {"corpus": options.corpus, "patterns": corpus_patterns(options)}
    if options.corpus == "generated":
        from synth.data import data_dir

        words = (data_dir() / "encyclopedia.json").read_bytes()
        key.update(seed=options.corpus_seed, size=options.corpus_size,
                   version=GENERATOR_VERSION, words=hashlib.sha256(words).hexdigest())
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return str(options.cache_root() / f"index-{digest}")


def ensure_index(options: SearchOptions, batch_rows: int = BATCH_ROWS) -> str:
    """Build the index unless it exists (streaming the corpus); return its location."""
    location = index_location(options)
    if not index_exists(location):
        patterns, generic = corpus_patterns(options)
        build_index(corpus_documents(options, batch_rows), location,
                    {"corpus": options.corpus, "patterns": patterns, "generic_facts": generic})
    return location


@lru_cache(maxsize=8)
def open_index(location: str, cache_dir: str) -> SearchIndex:
    """One open index per location and process (workers share it across tasks)."""
    return SearchIndex(local_copy(location, cache_dir))


def open_backend(options: SearchOptions) -> SearchBackend:
    """The backend these options ask for (the service's index, or the local one, built once)."""
    if options.backend == "http":
        return HttpBackend(options.service_url or "")
    return EmbeddedBackend(open_index(ensure_index(options), str(options.cache_root())))


def patterns_of(meta: dict[str, Any]) -> tuple[tuple[FactPattern, ...], bool]:
    """(fact patterns, generic?) of an index; generic corpora add years, rare terms and
    mentions to their own patterns."""
    own = tuple(FactPattern.model_validate(p) for p in meta.get("patterns") or ())
    generic = bool(meta.get("generic_facts", not own))
    return (own + GENERIC_PATTERNS if generic else own), generic


def open_tools(options: SearchOptions) -> SearchTools:
    return SearchTools(open_backend(options))
