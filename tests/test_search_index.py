"""The index, the search tools, and the `/retrieve` service: embedded and HTTP results are the
same, the protocol is Search-R1's, bad requests are clear errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from environments.search.family import SearchFamily
from synth.env import Environment, ToolError
from synth.search.backend import EmbeddedBackend, HttpBackend
from synth.search.encyclopedia import generate_encyclopedia
from synth.search.index import SearchIndex, build_index, index_exists, local_copy
from synth.search.links import derive_links
from synth.search.server import SearchServer
from synth.search.tools import SearchTools

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> str:
    location = str(tmp_path_factory.mktemp("search") / "index")
    build_index(derive_links(generate_encyclopedia(5, 300)), location, {"corpus": "test"})
    return location


@pytest.fixture(scope="module")
def index(built) -> SearchIndex:
    return SearchIndex(built)


@pytest.fixture(scope="module")
def server(index):
    with SearchServer(index) as running:
        yield running


def queries(index: SearchIndex) -> list[str]:
    titles = [index.get(i).title for i in index.meta["long_tail"][:8]]
    return ['"' + t + '"' for t in titles] + [
        "cartographer", '"river town" AND founded', "(Norvia OR Casmere) AND painter",
        'born AND "in 18', "AND", "title:nothing:here", "-excluded", "ünïcödé ☃", "x" * 300]


def post(url: str, body: object) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_build_is_idempotent_and_leaves_no_temporary_folder(built, tmp_path) -> None:
    meta = json.loads((Path(built) / "meta.json").read_text())
    again = build_index([], built)  # a finished index is never rebuilt
    assert again == meta and index_exists(built)
    assert not [p for p in Path(built).parent.iterdir() if p.name.startswith(".index-build-")]
    assert meta["documents"] == 300 and meta["long_tail"]


def test_malformed_queries_never_raise(index) -> None:
    for query in queries(index):
        results = index.search(query, 5)
        assert results.total >= len(results.hits)
    assert index.search("   ", 5).total == 0
    assert index.get("no-such-id") is None


def test_tools_over_the_embedded_index(index) -> None:
    tools = SearchTools(EmbeddedBackend(index))
    doc = index.get(index.meta["long_tail"][0])
    found = tools.search(f'"{doc.title}"', 3)
    assert found["hits"][0]["id"] == doc.id and found["total"] >= 1
    assert set(found["hits"][0]) == {"id", "title", "url", "snippet"}
    page = tools.open_page(doc.id)
    assert page["text"] == doc.text and page["pages"] == 1 and page["title"] == doc.title
    word = doc.text.split()[3]
    assert tools.find_in_page(doc.id, word.upper())["count"] >= 1
    assert {x["id"] for x in tools.list_links(doc.id)["links"]} == set(doc.links or ())
    for call, args in ((tools.open_page, (doc.id, 9)), (tools.open_page, ("nope", 1)),
                       (tools.find_in_page, ("nope", "x"))):
        with pytest.raises(ToolError):
            call(*args)


def test_http_backend_returns_what_the_embedded_engine_returns(index, server) -> None:
    embedded = SearchTools(EmbeddedBackend(index))
    remote = SearchTools(HttpBackend(server.url))
    ids = index.meta["long_tail"][:6]
    for query in queries(index):
        for top_k in (1, 5, 50):
            assert remote.search(query, top_k) == embedded.search(query, top_k)
    for doc_id in ids:
        assert remote.open_page(doc_id) == embedded.open_page(doc_id)
        assert remote.find_in_page(doc_id, "born") == embedded.find_in_page(doc_id, "born")
        assert remote.list_links(doc_id) == embedded.list_links(doc_id)
    with pytest.raises(ToolError, match="no page with id"):
        remote.open_page("nope")
    assert HttpBackend(server.url).meta() == index.meta


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=40), top_k=st.integers(1, 50))
def test_any_query_same_both_ways(index, server, query, top_k) -> None:
    embedded = SearchTools(EmbeddedBackend(index)).search(query, top_k)
    assert SearchTools(HttpBackend(server.url)).search(query, top_k) == embedded


def test_retrieve_speaks_the_search_r1_protocol(index, server) -> None:
    status, body = post(server.url + "/retrieve",
                        {"queries": ["cartographer", '"river town"'], "topk": 3,
                         "return_scores": True})
    assert status == 200 and len(body["result"]) == 2
    for ranked, query in zip(body["result"], ["cartographer", '"river town"'], strict=True):
        expected = index.search(query, 3)
        assert [h["document"]["id"] for h in ranked] == [h.document.id for h in expected.hits]
        assert [h["score"] for h in ranked] == [h.score for h in expected.hits]
        for hit in ranked:  # what Search-R1 / verl read: contents = '"Title"\ntext'
            title, text = hit["document"]["contents"].split("\n", 1)
            assert title == f'"{hit["document"]["title"]}"'
            assert text == index.get(hit["document"]["id"]).text
    status, plain = post(server.url + "/retrieve", {"queries": ["cartographer"]})
    assert status == 200 and len(plain["result"][0]) == 3 and "contents" in plain["result"][0][0]
    status, docs = post(server.url + "/documents", {"ids": [index.meta["long_tail"][0], "x"]})
    assert docs["documents"][0]["id"] == index.meta["long_tail"][0] and docs["documents"][1] is None


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/retrieve", {"queries": "one"}, "'queries' must be a list of strings"),
    ("/retrieve", {"queries": ["a"], "topk": 0}, "'topk' must be an integer from 1 to 50"),
    ("/retrieve", {"queries": ["a"], "topk": True}, "'topk'"),
    ("/retrieve", {"queries": ["a"], "return_scores": "yes"}, "'return_scores' must be"),
    ("/retrieve", [1, 2], "body must be a JSON object"),
    ("/documents", {"ids": [1]}, "'ids' must be a list of strings"),
])
def test_bad_requests_are_400_naming_the_field(server, path, body, message) -> None:
    status, answer = post(server.url + path, body)
    assert status == 400 and message in answer["error"]


def test_unreachable_service_is_an_error_result_not_a_crash(index) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    family = SearchFamily({"backend": "http", "service_url": f"http://127.0.0.1:{port}"})
    task = SearchFamily().generate(0, 1).task
    env = Environment(family, task)
    result = env.call("search", '{"query": "cartographer"}')
    assert not result.ok and "unreachable" in result.text and family.blocking_tools


def test_family_over_http_runs_the_reference_like_the_embedded_one(server, built) -> None:
    embedded = SearchFamily({"corpus_seed": 5, "corpus_size": 300, "index": built})
    remote = SearchFamily({"corpus_seed": 5, "corpus_size": 300, "index": built,
                           "backend": "http", "service_url": server.url})
    task = next(t for s in range(50) if (t := embedded.generate(s, 2).task) is not None)
    assert remote.generate(task.seed, 2).task.to_json_text() == task.to_json_text()
    for family in (embedded, remote):
        env = Environment(family, task)
        texts = [env.call(c.name, c.arguments).text for r in task.reference[0].rounds for c in r]
        assert env.verify(task.reference[0].answer).passed
        assert all(not t.startswith("Error") for t in texts)


def test_index_on_object_storage(tmp_path) -> None:
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test",
                     ).create_bucket(Bucket="idx")
        uri = (f"s3://test:test@idx/search/one?endpoint_override=127.0.0.1:{port}"
               "&scheme=http&region=us-east-1")
        docs = derive_links(generate_encyclopedia(2, 60))
        meta = build_index(docs, uri, {"corpus": "test"})
        assert index_exists(uri) and meta["documents"] == 60
        local = local_copy(uri, str(tmp_path / "cache"))
        assert local_copy(uri, str(tmp_path / "cache")) == local
        assert SearchIndex(local).get(docs[0].id) == docs[0]
    finally:
        server.stop()


def test_serve_search_command(built) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "synth.cli.main", "serve-search", built,
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        status = None
        while time.time() < deadline and status != 200:
            try:
                status, body = post(f"http://127.0.0.1:{port}/retrieve",
                                    {"queries": ["painter"], "topk": 2})
            except OSError:
                time.sleep(0.2)
        assert status == 200 and len(body["result"][0]) == 2
    finally:
        proc.terminate()
        proc.wait(30)
    missing = subprocess.run([sys.executable, "-m", "synth.cli.main", "serve-search",
                              str(Path(built).parent / "absent")], cwd=ROOT,
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "no index" in missing.stderr
