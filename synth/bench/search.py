"""The search family's figures, from one run: index build docs/s; search tool calls per second
at 1 and at C concurrent rollouts and the CPU ms per call, against raw tantivy queries (parse,
search, load the hits' stored documents) on the same index with the same queries, measured
interleaved in the same process. `overhead_ratio` = CPU per call of the search tool (engine,
snippets, the JSON text the model reads) / CPU per raw query, target <= 1.3;
`dispatch_overhead_ratio` adds the generic tool dispatch every family's calls go through
(JSON Schema validation of the arguments, error handling). Tasks constructed per second
(construction, answer agents, verification, reference validation) on one core.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

TARGET_OVERHEAD = 1.3


def _raw_query(index: Any, query: str, top_k: int) -> int:
    """What a caller of tantivy itself does for the same hits: parse, search, load documents."""
    searcher = index.searcher
    parsed, _ = index.index.parse_query_lenient(query, ["title", "aliases", "text"],
                                                field_boosts={"title": 2.0})
    result = searcher.search(parsed, top_k)
    return sum(len(searcher.doc(address).to_dict()) for _, address in result.hits)


def _queries(family: Any, seeds: int) -> list[str]:
    """Realistic queries: every search call of the reference solutions of real tasks."""
    queries = []
    for seed in range(seeds):
        task = family.generate(seed, 1 + seed % 5).task
        if task is None:
            continue
        queries += [c.arguments["query"] for turn in task.reference for r in turn.rounds
                    for c in r if c.name == "search"]
    return queries


def _cpu_per_call(run: Any, items: list[Any], repeats: int) -> float:
    """Median CPU seconds per item over `repeats` passes."""
    samples = []
    for _ in range(repeats):
        started = time.process_time()
        for item in items:
            run(item)
        samples.append((time.process_time() - started) / len(items))
    return statistics.median(samples)


async def _rollouts(env_factory: Any, calls: list[dict[str, Any]], concurrency: int,
                    total: int) -> tuple[float, float]:
    """`concurrency` rollouts on one event loop, each making search tool calls in turn."""
    per = max(1, total // concurrency)

    async def one(offset: int) -> None:
        env = env_factory()
        for i in range(per):
            env.call("search", calls[(offset + i) % len(calls)])
            await asyncio.sleep(0)  # rollouts interleave as they do between model calls

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i * 7) for i in range(concurrency)))
    done = per * concurrency
    return done / (time.perf_counter() - wall), (time.process_time() - cpu) / done * 1000


def bench_search(smoke: bool = False, documents: int = 20000, concurrency: int = 256,
                 construct_seeds: int = 60) -> dict[str, Any]:
    from environments.search.family import SearchFamily
    from synth.env import Environment
    from synth.env.tools import to_result_text
    from synth.search.encyclopedia import generate_encyclopedia
    from synth.search.engine import open_index
    from synth.search.index import build_index
    from synth.search.links import derive_links

    if smoke:
        documents, concurrency, construct_seeds = 400, 16, 6
    result: dict[str, Any] = {"documents": documents}
    with tempfile.TemporaryDirectory(prefix="synth-bench-search-") as tmp:
        started = time.perf_counter()
        docs = derive_links(generate_encyclopedia(7, documents))
        result["corpus_docs_per_s"] = documents / (time.perf_counter() - started)
        location = str(Path(tmp) / "index")
        started = time.perf_counter()
        from synth.search.encyclopedia import PATTERNS

        build_index(docs, location, {"corpus": "generated",
                                     "patterns": [p.model_dump() for p in PATTERNS],
                                     "generic_facts": False})
        result["index_build_docs_per_s"] = documents / (time.perf_counter() - started)
        family = SearchFamily({"corpus": "generated", "corpus_seed": 7,
                               "corpus_size": documents, "index": location,
                               "cache_dir": tmp})
        index = open_index(location, tmp)

        started = time.process_time()
        made, discards = 0, Counter[str]()
        for seed in range(construct_seeds):
            generated = family.generate(1000 + seed, 1 + seed % 5)
            made += generated.task is not None
            if generated.task is None:
                discards[generated.discard or "unknown"] += 1
        cpu = time.process_time() - started
        result["construction"] = {"tasks_per_s": made / cpu if cpu else 0.0,
                                  "attempts_per_s": construct_seeds / cpu if cpu else 0.0,
                                  "kept": made, "seeds": construct_seeds,
                                  "discards": dict(discards)}

        queries = _queries(family, max(10, construct_seeds // 2)) or ['"river town"']
        calls = [{"query": q, "top_k": 10} for q in queries]
        task = next(t for s in range(200) if (t := family.generate(s, 1).task) is not None)
        env = Environment(family, task)
        repeats = 3 if smoke else 7
        search = family.tools["search"].fn
        raws, tools, dispatches = [], [], []
        for _ in range(3):  # interleaved, so that machine noise hits all three alike
            raws.append(_cpu_per_call(lambda q: _raw_query(index, q, 10), queries, repeats))
            tools.append(_cpu_per_call(lambda a: to_result_text(search(env.state, **a)), calls,
                                       repeats))
            dispatches.append(_cpu_per_call(lambda a: env.call("search", a), calls, repeats))
        raw, tool, dispatch = (statistics.median(x) for x in (raws, tools, dispatches))
        result["search"] = {"queries": len(queries), "raw_tantivy_ms_per_query": raw * 1000,
                            "tool_ms_per_call": tool * 1000,
                            "dispatch_ms_per_call": dispatch * 1000,
                            "overhead_ratio": tool / raw,
                            "dispatch_overhead_ratio": dispatch / raw,
                            "target_overhead_ratio": TARGET_OVERHEAD,
                            "meets_target": tool / raw <= TARGET_OVERHEAD}
        total = len(calls) * (2 if smoke else 10)
        levels = {}
        for c in (1, concurrency):
            rate, cpu_ms = asyncio.run(_rollouts(lambda: Environment(family, task), calls,
                                                 c, total))
            levels[str(c)] = {"calls_per_s": rate, "cpu_ms_per_call": cpu_ms}
        result["rollouts"] = levels
    return result
