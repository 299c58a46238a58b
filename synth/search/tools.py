"""The search tools the model sees, over any backend: `search`, `open_page`, `find_in_page`
and `list_links`. Results are plain JSON values; a bad id or an unreachable service is a
`ToolError`, which the rollout turns into an error result the model reads.
"""

from __future__ import annotations

from typing import Any

from synth.env.tools import ToolError
from synth.search.backend import BackendError, SearchBackend
from synth.search.corpus import Document
from synth.search.text import find_all, page_windows, query_words, snippet

MAX_TOP_K = 50
MAX_MATCHES = 20


class SearchTools:
    """Formats what the backend returns into what the model reads."""

    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend

    def search(self, query: str, top_k: int = 5) -> dict[str, Any]:
        """Ranked hits (id, title, url, snippet) and how many documents match in all."""
        try:
            results = self.backend.search([query], top_k)[0]
        except BackendError as exc:
            raise ToolError(str(exc)) from None
        pattern = query_words(query)
        return {"query": query, "total": results.total,
                "hits": [{"id": h.document.id, "title": h.document.title,
                          "url": h.document.url, "snippet": snippet(h.document.text, pattern)}
                         for h in results.hits]}

    def document(self, doc_id: str) -> Document:
        try:
            doc = self.backend.documents([doc_id])[0]
        except BackendError as exc:
            raise ToolError(str(exc)) from None
        if doc is None:
            raise ToolError(f"no page with id {doc_id!r}; use an id from search results")
        return doc

    def open_page(self, doc_id: str, page: int = 1) -> dict[str, Any]:
        """One window of a document's text (pages count from 1)."""
        doc = self.document(doc_id)
        pages = page_windows(doc.text)
        if page > len(pages):
            raise ToolError(f"page {page} of {doc_id!r} does not exist; it has {len(pages)}")
        return {"id": doc.id, "title": doc.title, "aliases": list(doc.aliases),
                "url": doc.url, "page": page, "pages": len(pages), "text": pages[page - 1]}

    def find_in_page(self, doc_id: str, pattern: str) -> dict[str, Any]:
        """Case-insensitive occurrences of `pattern` in a document, with their page."""
        doc = self.document(doc_id)
        pages = page_windows(doc.text)
        starts, total = [], 0
        for text in pages:
            starts.append(total)
            total += len(text)
        matches = []
        for offset, context in find_all(doc.text, pattern, limit=MAX_MATCHES):
            page = sum(1 for s in starts if s <= offset)
            matches.append({"page": page, "context": " ".join(context.split())})
        return {"id": doc.id, "title": doc.title, "pattern": pattern, "count": len(matches),
                "matches": matches}

    def list_links(self, doc_id: str) -> dict[str, Any]:
        """The pages a document links to (id and title)."""
        doc = self.document(doc_id)
        ids = list(doc.links or ())
        try:
            targets = self.backend.documents(ids) if ids else []
        except BackendError as exc:
            raise ToolError(str(exc)) from None
        return {"id": doc.id, "title": doc.title,
                "links": [{"id": t.id, "title": t.title} for t in targets if t is not None]}
