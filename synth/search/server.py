"""`synth serve-search INDEX`: one index shared by many workers and RL trainers over HTTP.

`POST /retrieve` is the retrieval protocol of Search-R1 and verl's search tool:
`{"queries": [...], "topk": k, "return_scores": bool}` -> `{"result": [[hit, ...], ...]}`
where a hit is `{"document": {"id", "contents": '"Title"\\ntext', ...}, "score": s}` (or the
document alone without scores). `"total"` adds each query's match count. `POST /documents`
(`{"ids": [...]}` -> `{"documents": [doc or null, ...]}`), `GET /meta` (the index's meta) and
`GET /health` complete what the `http` backend needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from aiohttp import web

from synth.search.backend import EmbeddedBackend, document_json
from synth.search.index import SearchIndex
from synth.search.tools import MAX_TOP_K

DEFAULT_TOP_K = 3  # Search-R1's default
MAX_BATCH = 1024


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _strings(request: web.Request, key: str) -> tuple[dict[str, Any], list[str]] | \
        web.Response:
    """The JSON body and its list of strings under `key`, or a 400 that says what is wrong."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _bad("body must be a JSON object")
    values = body.get(key)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return _bad(f"'{key}' must be a list of strings")
    if len(values) > MAX_BATCH:
        return _bad(f"at most {MAX_BATCH} {key} per request")
    return body, values


def make_app(index: SearchIndex) -> web.Application:
    """The aiohttp application serving `index`."""
    backend = EmbeddedBackend(index)
    app = web.Application(client_max_size=16 * 1024 * 1024)

    async def retrieve(request: web.Request) -> web.Response:
        parsed = await _strings(request, "queries")
        if isinstance(parsed, web.Response):
            return parsed
        body, queries = parsed
        top_k = body.get("topk", DEFAULT_TOP_K)
        if top_k is None:
            top_k = DEFAULT_TOP_K
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
            return _bad(f"'topk' must be an integer from 1 to {MAX_TOP_K}")
        scores = body.get("return_scores", False)
        if not isinstance(scores, bool):
            return _bad("'return_scores' must be a boolean")
        results = backend.search(queries, top_k)
        ranked = [[{"document": document_json(h.document), "score": h.score} if scores
                   else document_json(h.document) for h in r.hits] for r in results]
        return web.json_response({"result": ranked, "total": [r.total for r in results]})

    async def documents(request: web.Request) -> web.Response:
        parsed = await _strings(request, "ids")
        if isinstance(parsed, web.Response):
            return parsed
        found = backend.documents(parsed[1])
        return web.json_response(
            {"documents": [document_json(d) if d is not None else None for d in found]})

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "documents": index.num_docs})

    async def meta(_request: web.Request) -> web.Response:
        return web.json_response(index.meta)

    app.router.add_post("/retrieve", retrieve)
    app.router.add_post("/documents", documents)
    app.router.add_get("/health", health)
    app.router.add_get("/meta", meta)
    return app


class SearchServer:
    """The service in a background thread of this process (tests, benchmarks, notebooks)."""

    def __init__(self, index: SearchIndex, host: str = "127.0.0.1", port: int = 0) -> None:
        self.index, self.host, self.port = index, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> SearchServer:
        import threading

        if not self.port:
            with socket.socket() as probe:
                probe.bind((self.host, 0))
                self.port = probe.getsockname()[1]
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def start() -> None:
            self._runner = web.AppRunner(make_app(self.index), access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, self.host, self.port).start()
            ready.set()

        loop = self._loop

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(start())
            loop.run_forever()

        self._thread = threading.Thread(target=serve, name="search-server", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("search server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(30)
        loop.close()


def serve_forever(index: SearchIndex, host: str, port: int) -> None:
    """Run the service in the foreground until interrupted."""
    web.run_app(make_app(index), host=host, port=port, access_log=None,
                print=lambda _msg: print(f"search service listening on http://{host}:{port}",
                                         flush=True))
