"""Decoding what a sandbox sends back never raises, whatever the bytes hold: properties of
the decoder, then frames forged by sandboxed code end to end (those need bubblewrap)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import isolated_sandbox
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.sandbox import Sandbox, SandboxLimits
from synth.sandbox.decode import (
    MAX_RESULT_DEPTH,
    interpret,
    launcher_report,
    load_json,
    nesting_depth,
    wrapper_report,
)

LIMITS = SandboxLimits()
REPORT = b'{"exit_code": 0, "cpu_s": 0.01, "maxrss_kb": 1, "result_overflow": false}'

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)
json_like_bytes = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(0, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b",", b":", b"1", b"\xff"]),
             max_size=200).map(b"".join),
)  # fmt: skip


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


@given(json_values)
def test_valid_values_round_trip_and_depth_matches(value: Any) -> None:
    ok, decoded = load_json(json.dumps(value).encode())
    assert ok and decoded == value
    assert nesting_depth(value, 10_000) == reference_depth(value)


@given(st.integers(1, 5000))
def test_depth_bound_is_exact(depth: int) -> None:
    ok, why = load_json(b"[" * depth + b"]" * depth)
    assert ok == (depth <= MAX_RESULT_DEPTH), why


@settings(max_examples=300)
@given(json_like_bytes, json_like_bytes, st.binary(max_size=200),
       st.sampled_from([None, "wall_time", "output"]), st.integers(-300, 300))  # fmt: skip
def test_interpret_never_raises(frame: bytes, header: bytes, stdout: bytes,
                                limit: str | None, code: int) -> None:
    for result in (header + b"\n" + frame, REPORT + b"\n" + frame):
        out = {"stdout": stdout, "stderr": stdout[::-1], "result": result, "report": frame,
               "limit": limit, "returncode": code, "duration_s": 0.5}  # fmt: skip
        res = interpret(out, LIMITS, "bwrap")
        assert res.ok is (res.error is None)
        assert isinstance(res.error, str | None)
    assert launcher_report(header) is None or isinstance(launcher_report(header), dict)
    assert set(wrapper_report(frame)) == {"oom_kills", "peak_bytes", "error"}


@given(json_values)
def test_a_well_formed_frame_returns_its_value(value: Any) -> None:
    frame = json.dumps({"ok": True, "value": value}).encode()
    out = {"stdout": b"", "stderr": b"", "result": REPORT + b"\n" + frame, "report": b"",
           "limit": None, "returncode": 0, "duration_s": 0.1}  # fmt: skip
    res = interpret(out, LIMITS, "bwrap")
    assert res.ok and res.value == value


def test_an_oom_kill_makes_a_failed_run_a_memory_failure() -> None:
    killed = b'{"exit_code": -9, "cpu_s": 0.1, "result_overflow": false}'
    out = {"stdout": b"", "stderr": b"", "result": killed + b"\n", "report": b"",
           "limit": None, "returncode": 0, "duration_s": 0.1}  # fmt: skip
    assert interpret(out, LIMITS, "bwrap").limit is None
    out["report"] = b'{"oom_kills": 1, "peak_bytes": 123}'
    res = interpret(out, LIMITS, "bwrap")
    assert res.limit == "memory" and not res.ok and "MiB in all" in (res.error or "")


@pytest.fixture(scope="module")
def sb() -> Sandbox:
    return isolated_sandbox(SandboxLimits(cpu_s=2, wall_s=10, max_result_kb=64))


# --- frames the sandboxed code forges -------------------------------------------------


def forge_frame(frame: bytes) -> str:
    """Code that writes ``frame`` into every pipe it holds (the result pipe among them)
    and exits before the launcher's own frame could follow."""
    return f"""
import os, stat
def main(_):
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, {frame!r})
        except OSError:
            pass
    os._exit(0)
"""


DEEP = 30_000


@pytest.mark.parametrize(("frame", "error"), [
    (b'{"ok": true, "value": ' + b"[" * DEEP + b"]" * DEEP + b"}", "not valid JSON"),
    (b'{"ok": true, "value": ' + b"[" * 500 + b"]" * 500 + b"}", "nested deeper"),
    (b'{"ok": false, "error": 1}', "non-text error: 1"),
    (b'{"ok": false, "error": {"exc": [1, 2]}, "errno": [28], "exc_type": {}}', "non-text"),
    (b'{"ok": "yes"}', "wrong shape"),
    (b"[1, 2, 3]", "wrong shape"),
    (b"\xff\xfe garbage \x00", "could not be decoded"),
    (b'{"ok": true, "value": "\\ud800"}', "could not be decoded"),
])  # fmt: skip
def test_forged_frames_become_failures(sb: Sandbox, frame: bytes, error: str) -> None:
    res = sb.run(forge_frame(frame), limits=sb.limits.model_copy(update={"max_result_kb": 256}))
    assert not res.ok and res.value is None and error in (res.error or ""), res.error


def test_forged_frame_through_run_python_is_a_recorded_failure(sb: Sandbox) -> None:
    from synth.synthesis.runner import CodeRunner

    runner = CodeRunner(sb.limits, sandbox=sb)
    for frame in (b'{"ok": true, "value": 5}', b'{"ok": false, "error": 1}',
                  b'{"ok": true, "value": {"ok": false, "error": 1, "changed": {}, '
                  b'"removed": []}}',
                  b'{"ok": true, "value": {"ok": true, "changed": [1], "removed": []}}'):
        code = forge_frame(frame).replace("def main(_):\n", "if True:\n")
        out = runner.script(code, {}, 1024)
        assert out["ok"] is False and out["kind"] == "run_python_crashed", out
    assert runner.script("print('fine')", {}, 1024)["ok"] is True
