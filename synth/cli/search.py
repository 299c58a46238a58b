"""`synth serve-search INDEX`: serve a search index over HTTP (Search-R1/verl `/retrieve`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)


def serve_search(
    index: Annotated[str, typer.Argument(help="index folder or URI (s3://...)")],
    corpus: Annotated[str | None, typer.Option(
        help="build the index from this corpus first if it does not exist: 'generated', a "
             "Parquet/JSONL path or URI, or 'dictd:FOLDER'")] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8100,
    cache_dir: Annotated[str | None, typer.Option(help="where a URI index is fetched to")] = None,
) -> None:
    """Serve INDEX: POST /retrieve {queries, topk, return_scores}, POST /documents {ids},
    GET /meta, GET /health."""
    from synth.search.corpus import CorpusError
    from synth.search.engine import ensure_index, open_index
    from synth.search.index import index_exists
    from synth.search.options import SearchOptions
    from synth.search.server import serve_forever

    try:
        options = SearchOptions(corpus=corpus or "generated", index=index, cache_dir=cache_dir)
        if not index_exists(index):
            if corpus is None:
                err.print(f"[red]no index at {index}[/]; pass --corpus to build it")
                raise typer.Exit(code=2)
            err.print(f"building the index of {corpus} at {index} ...")
            ensure_index(options)
        opened = open_index(index, str(options.cache_root()))
    except (CorpusError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    err.print(f"{opened.num_docs:,} documents")
    serve_forever(opened, host, port)
