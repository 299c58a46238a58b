"""The family's build stage: the index streamed from a corpus larger than one batch, built once
as a committed unit on Ray; prepared tasks constructed by a chained stage and served by id."""

from __future__ import annotations

import weakref
from pathlib import Path

from environments.search.family import SearchFamily
from synth.infra.storage import Output
from synth.pipeline.config import parse_config
from synth.pipeline.job import run_build_stage
from synth.pipeline.plan import plan_shards
from synth.search.corpus import write_corpus
from synth.search.encyclopedia import generate_encyclopedia
from synth.search.engine import corpus_documents, ensure_index, index_location
from synth.search.index import SearchIndex, build_index, index_exists
from synth.search.links import derive_links, in_degrees
from synth.search.options import SearchOptions

BATCH = 32


def test_a_corpus_larger_than_a_batch_is_indexed_as_a_stream(tmp_path) -> None:
    docs = generate_encyclopedia(3, 300)  # no links: derived from mentions across batches
    folder = tmp_path / "corpus"
    write_corpus(docs[:170], str(folder / "a.parquet"))
    write_corpus(docs[170:], str(folder / "b.parquet"))
    options = SearchOptions(corpus=str(folder), cache_dir=str(tmp_path / "cache"))
    linked = derive_links(docs)
    assert list(corpus_documents(options, batch_rows=BATCH)) == linked

    alive: list[weakref.ref] = []
    most = 0

    def watched():  # how many documents the build still holds when it asks for the next one
        nonlocal most
        for doc in corpus_documents(options, batch_rows=BATCH):
            alive.append(weakref.ref(doc))
            most = max(most, sum(ref() is not None for ref in alive))
            yield doc

    location = str(tmp_path / "streamed")
    meta = build_index(watched(), location, {"corpus": "test"})
    assert meta["documents"] == 300 and most <= 2
    degrees = in_degrees(linked)
    assert meta["long_tail"] == [d.id for d in linked if degrees.get(d.id, 0) <= 2]
    index = SearchIndex(location)
    assert all(index.get(d.id) == d for d in linked[::37])

    built = ensure_index(options, batch_rows=BATCH)  # the product's path: the same index
    assert built == index_location(options) and SearchIndex(built).meta["documents"] == 300
    assert SearchIndex(built).meta["long_tail"] == meta["long_tail"]


def small_job(tmp_path: Path, options: dict, tasks: int = 1, **extra) -> object:
    return parse_config({"output": str(tmp_path / "out"), **extra,
                         "families": [{"name": "search", "tasks": tasks, "options": options,
                                       **({"difficulties": [1, 2]} if extra else {})}]})


def test_the_index_is_a_build_stage_committed_once(ray_session, tmp_path) -> None:
    options = {"corpus_seed": 9, "corpus_size": 60, "cache_dir": str(tmp_path / "cache")}
    family = SearchFamily(options)
    stage = family.build_stage()
    location = index_location(family.options)
    assert location.startswith(str(tmp_path / "cache" / "search"))
    assert (stage.name, stage.output, stage.then) == ("search-index", f"{location}.build", None)
    run_build_stage("search", family, small_job(tmp_path, options))
    assert index_exists(location) and Output(stage.output).is_committed("index")
    assert SearchIndex(location).meta["documents"] == 60
    built = {p: p.stat().st_mtime_ns for p in Path(location).rglob("*")}
    marker = Path(stage.output) / "_commits" / "index.json"
    committed = marker.stat().st_mtime_ns
    run_build_stage("search", family, small_job(tmp_path, options))  # committed: skipped
    assert {p: p.stat().st_mtime_ns for p in Path(location).rglob("*")} == built
    assert marker.stat().st_mtime_ns == committed
    other = SearchFamily({**options, "corpus_seed": 10}).build_stage()
    assert other.output != stage.output  # other content, another index
    assert SearchFamily({**options, "backend": "http",
                         "service_url": "http://127.0.0.1:1"}).build_stage() is None


def test_prepared_tasks_are_constructed_by_the_build_stage(ray_session, tmp_path) -> None:
    prepared = {"location": str(tmp_path / "prepared"), "seed": 5, "tasks": 6,
                "difficulties": [1, 2], "tasks_per_unit": 2}
    cache = {"cache_dir": str(tmp_path / "cache")}  # the index is built first, then the tasks
    family = SearchFamily({**cache, "prepared": prepared})
    index = family.build_stage()
    stage = index.then
    assert (index.name, stage.name, stage.then) == ("search-index", "search-tasks", None)
    assert len(stage.units) <= 3 and sum(len(u.slots) for u in stage.units) == 6
    config = small_job(tmp_path, {**cache, "prepared": prepared}, tasks=6, seed=5)
    run_build_stage("search", family, config)
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "prepared" / "tasks").iterdir()}
    assert len(files) == len(stage.units)
    run_build_stage("search", family, config)  # committed units are not constructed again
    assert {p: p.stat().st_mtime_ns for p in files} == files

    fresh = SearchFamily(cache)
    slots = [slot for shard in plan_shards(config, {"search": family.levels})
             for slot in shard.slots]
    assert sorted((s.seed, s.difficulty) for s in slots) == sorted(
        slot for unit in stage.units for slot in unit.slots)  # the job's own slots
    served_tasks = 0
    for slot in slots:
        served, expected = (f.generate(slot.seed, slot.difficulty) for f in (family, fresh))
        if expected.task is None:
            assert served.discard == "not_prepared"
        else:
            assert served.task.to_json_text() == expected.task.to_json_text()
            served_tasks += 1
    assert served_tasks >= 3
    assert family.generate(99, 1).discard == "not_prepared"


def test_the_cluster_config_prepares_its_own_slots() -> None:
    import yaml

    from synth.env import resolve_family
    from synth.resources import config_path

    config = parse_config(yaml.safe_load(config_path("search-cluster.yaml").read_text()))
    (spec,) = config.families
    family = resolve_family(spec.name, spec.options)
    prepared = family.options.prepared
    assert (prepared.seed, prepared.tasks) == (config.seed, spec.tasks)
    assert prepared.difficulties == spec.difficulties
    assert family.options.backend == "http" and family.build_stage().name == "search-tasks"
