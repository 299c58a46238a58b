"""Where searches run: the embedded index in this process, or a shared `/retrieve` service.

Both backends answer the same two requests (ranked search for a batch of queries, documents
by id) with the same values, so the tools built on them return identical results either way.
The HTTP backend speaks the protocol of `synth serve-search` (Search-R1 and verl's `/retrieve`
plus `/documents`); it is synchronous, keeps one connection per thread and retries a dropped
connection once.
"""

from __future__ import annotations

import http.client
import json
import threading
from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import urlsplit

from synth.search.corpus import Document
from synth.search.index import Hit, Results, SearchIndex


class BackendError(RuntimeError):
    """The search service failed; tools turn this into an error result the model reads."""


class SearchBackend(ABC):
    """Ranked search and documents by id."""

    @abstractmethod
    def search(self, queries: list[str], top_k: int) -> list[Results]:
        """The top `top_k` hits (and match counts) of each query."""

    @abstractmethod
    def documents(self, ids: list[str]) -> list[Document | None]:
        """The documents with these ids (None where there is none)."""

    @abstractmethod
    def meta(self) -> dict[str, Any]:
        """The index's meta: document count, long-tail ids, fact patterns."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release connections."""


class EmbeddedBackend(SearchBackend):
    """The index opened in this process."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index

    def search(self, queries: list[str], top_k: int) -> list[Results]:
        return [self.index.search(q, top_k) for q in queries]

    def documents(self, ids: list[str]) -> list[Document | None]:
        return [self.index.get(i) for i in ids]

    def meta(self) -> dict[str, Any]:
        return self.index.meta


def document_json(doc: Document) -> dict[str, Any]:
    """A document as the service sends it: Search-R1's `contents` ('"Title"\\ntext') plus
    the fields it lacks."""
    return {"id": doc.id, "title": doc.title, "contents": f'"{doc.title}"\n{doc.text}',
            "url": doc.url, "links": list(doc.links or ()), "aliases": list(doc.aliases)}


def document_from_json(data: dict[str, Any]) -> Document:
    title = data["title"]
    head = f'"{title}"\n'
    contents = data["contents"]
    text = contents[len(head):] if contents.startswith(head) else contents
    return Document(data["id"], title, text, data.get("url", ""),
                    tuple(data.get("links") or ()), tuple(data.get("aliases") or ()))


class HttpBackend(SearchBackend):
    """A `synth serve-search` (or compatible) service at `url`."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"search service url must be http(s)://host[:port], got {url!r}")
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = kind(self._host, self._port, timeout=self.timeout_s)
            self._local.conn = conn
        return conn

    def _request(self, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        """POST `payload` (GET when None) and decode the JSON answer."""
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"}
        method = "GET" if payload is None else "POST"
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, self._prefix + path, body, headers)
                response = conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt:
                    raise BackendError(f"search service {self.url} unreachable: {exc}") from exc
                continue
            if response.status != 200:
                raise BackendError(f"search service {self.url}{path} answered "
                                   f"{response.status}: {data[:200].decode(errors='replace')}")
            try:
                return json.loads(data)
            except ValueError as exc:
                raise BackendError(f"search service {self.url}{path} sent invalid JSON") \
                    from exc
        raise BackendError(f"search service {self.url} unreachable")

    def search(self, queries: list[str], top_k: int) -> list[Results]:
        data = self._request("/retrieve", {"queries": queries, "topk": top_k,
                                        "return_scores": True})
        totals = data.get("total") or [None] * len(queries)
        out = []
        for ranked, total in zip(data["result"], totals, strict=True):
            hits = [Hit(document_from_json(item["document"]), float(item["score"]))
                    for item in ranked]
            out.append(Results(hits, len(hits) if total is None else int(total)))
        return out

    def documents(self, ids: list[str]) -> list[Document | None]:
        data = self._request("/documents", {"ids": ids})
        return [document_from_json(d) if d is not None else None for d in data["documents"]]

    def meta(self) -> dict[str, Any]:
        return self._request("/meta", None)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
