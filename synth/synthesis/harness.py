"""Runs *inside* the sandbox (stdlib only): loads model-written files and calls into them.

Model code (tools.py, solution.py, verify.py) is executed in its own namespace whose builtins
lack file, dynamic-code and introspection functions and whose imports are limited to an
allowlist. The solution gets a proxy object whose attributes are the tools: the database lives
only in the proxy's closure (it is passed in the payload, never as a file), every call is
recorded, and results come back as fresh JSON copies, so the solution cannot hold a reference
into the database. Every entry point returns a JSON-able dict; errors are values, not raises.
"""

import builtins
import hashlib
import json
import os
import sys
import traceback

ALLOWED_MODULES = frozenset({
    "__future__", "json", "math", "re", "datetime", "collections", "itertools", "functools",
    "statistics", "string", "heapq", "bisect", "copy", "decimal", "fractions", "operator",
    "random", "typing", "dataclasses", "enum",
})
BLOCKED_BUILTINS = frozenset({
    "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "getattr",
    "setattr", "delattr", "dir", "input", "breakpoint", "help", "exit", "quit", "memoryview",
})
MODEL_FILES = ("tools.py", "solution.py", "verify.py")


class Failure(Exception):
    """A failure with a stable kind, reported to the host as {"ok": False, "kind": ...}."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level != 0 or name.split(".")[0] not in ALLOWED_MODULES:
        raise ImportError(f"import of {name!r} is not allowed (allowed: "
                          f"{', '.join(sorted(ALLOWED_MODULES - {'__future__'}))})")
    return builtins.__import__(name, globals, locals, fromlist, level)


def _namespace(module):
    safe = {k: v for k, v in vars(builtins).items() if k not in BLOCKED_BUILTINS}
    safe["__import__"] = _guarded_import
    return {"__builtins__": safe, "__name__": module}


def _model_error(exc):
    """The traceback limited to frames of model-written files, ending with the exception."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.basename(f.filename) in MODEL_FILES]
    lines = [f"  {os.path.basename(f.filename)}, line {f.lineno}, in {f.name}: "
             f"{(f.line or '').strip()}" for f in frames[-6:]]
    return "\n".join([*lines, f"{type(exc).__name__}: {exc}"])[-3000:]


def _load(filename, kind):
    try:
        with open(filename, encoding="utf-8") as fh:
            source = fh.read()
    except OSError:
        raise Failure("missing_file", f"{filename} is missing") from None
    namespace = _namespace(filename[:-3])
    try:
        exec(compile(source, filename, "exec"), namespace)
    except Exception as exc:
        raise Failure(kind, _model_error(exc)) from None
    return namespace


def _copy(value):
    return json.loads(json.dumps(value))


def _tools():
    namespace = _load("tools.py", "tools_load_error")
    spec = namespace.get("TOOLS")
    if not isinstance(spec, list) or not spec:
        raise Failure("tools_spec_invalid", "tools.py must define TOOLS, a non-empty list")
    functions = {}
    for position, entry in enumerate(spec):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise Failure("tools_spec_invalid", f"TOOLS[{position}] needs a string 'name'")
        fn = namespace.get(entry["name"])
        if not callable(fn):
            raise Failure("tool_missing_function",
                          f"TOOLS names {entry['name']!r} but tools.py defines no such function")
        functions[entry["name"]] = fn
    try:
        spec = _copy(spec)
    except (TypeError, ValueError) as exc:
        raise Failure("tools_spec_invalid", f"TOOLS is not JSON data: {exc}") from None
    return spec, functions


def _signature(fn):
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    named = [p for p in params[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return {
        "first": params[0].name if params else None,
        "names": [p.name for p in named],
        "required": [p.name for p in named if p.default is p.empty],
        "var_keyword": any(p.kind == p.VAR_KEYWORD for p in params),
    }


def _call(functions, db, name, arguments):
    """One tool call, transactional: on an exception the database is left as it was."""
    before = json.dumps(db)
    try:
        value = functions[name](db, **arguments)
        return {"ok": True, "value": _copy(value), "changed": json.dumps(db) != before}, db
    except Exception as exc:
        return {"ok": False, "error": _model_error(exc)}, json.loads(before)


def _guard(fn):
    def run(payload):
        try:
            return fn(payload)
        except Failure as failure:
            return {"ok": False, "kind": failure.kind, "error": str(failure)}
    return run


@_guard
def call_tool(payload):
    """One tool call: the result and the database afterwards."""
    _, functions = _tools()
    if payload["name"] not in functions:
        return {"ok": True, "result": {"ok": False, "error": f"unknown tool {payload['name']}"},
                "db": payload["db"]}
    result, db = _call(functions, payload["db"], payload["name"], payload["arguments"])
    return {"ok": True, "result": result, "db": db}


TOOLS_LOADED = "synth-harness: tools loaded"


@_guard
def solve(payload):
    """Load the tools (reporting TOOLS and signatures), then run solution.py's solve(tools)
    against a proxy: the trace, the answer and the final db."""
    spec, functions = _tools()
    print(TOOLS_LOADED, file=sys.stderr, flush=True)
    inspected = {"tools": spec,
                 "signatures": {name: _signature(fn) for name, fn in functions.items()}}
    names = payload.get("tool_names")
    allowed = frozenset(functions if names is None else names) & frozenset(functions)
    try:
        return {**_solve(functions, allowed, payload["db"]), **inspected}
    except Failure as failure:
        return {"ok": False, "kind": failure.kind, "error": str(failure), **inspected}


def _solve(functions, allowed, db):
    box = {"db": db}
    trace = []

    def make(name):
        def tool_call(*args, **kwargs):
            if args:
                raise TypeError(f"tools.{name}() takes keyword arguments only")
            arguments = _copy(kwargs)
            if name not in allowed:
                trace.append({"name": name, "arguments": arguments, "ok": False,
                              "error": "unknown tool"})
                raise Failure("solution_unknown_tool", f"the solution called tools.{name}, "
                              f"which is not one of the task's tools: {sorted(allowed)}")
            result, box["db"] = _call(functions, box["db"], name, arguments)
            trace.append({"name": name, "arguments": arguments, **result})
            if not result["ok"]:
                raise RuntimeError(f"tools.{name} failed: {result['error']}")
            return _copy(result["value"])
        return tool_call

    class Tools:
        __slots__ = ()

        def __getattr__(self, name):
            return make(name)

    namespace = _load("solution.py", "solution_error")
    solve_fn = namespace.get("solve")
    if not callable(solve_fn):
        raise Failure("solution_missing_solve", "solution.py must define solve(tools)")
    try:
        answer = solve_fn(Tools())
    except Failure:
        raise
    except Exception as exc:
        kind = "solution_tool_error" if trace and not trace[-1]["ok"] else "solution_error"
        return {"ok": False, "kind": kind, "error": _model_error(exc), "trace": trace}
    try:
        answer = _copy(answer)
    except (TypeError, ValueError) as exc:
        raise Failure("solution_bad_answer", f"solve() must return JSON data: {exc}") from None
    return {"ok": True, "trace": trace, "answer": answer, "db": box["db"]}


def _verdict(namespace_fn, db, answer):
    try:
        value = namespace_fn(db, answer)
    except Exception as exc:
        return {"ok": False, "error": _model_error(exc)}
    if isinstance(value, bool):
        return {"ok": True, "score": 1.0 if value else 0.0,
                "reason": "verifier returned " + str(value)}
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(
            value[0], (int, float)) and not isinstance(value[0], bool):
        score = float(value[0])
        if 0.0 <= score <= 1.0:
            return {"ok": True, "score": score, "reason": str(value[1])[:500]}
    return {"ok": False, "error": "verify() must return a bool or (score in [0, 1], reason), "
                                  f"got {type(value).__name__}"}


@_guard
def verify_many(payload):
    """Replay `calls` on `db` (optional; `trace_dbs` also returns the db after each call),
    then judge each item: {db | "replayed", answer}."""
    replay = None
    if payload.get("calls") is not None:
        _, functions = _tools()
        db, results, dbs = payload["db"], [], []
        for call in payload["calls"]:
            if call["name"] not in functions:
                result = {"ok": False, "error": f"unknown tool {call['name']}"}
            else:
                result, db = _call(functions, db, call["name"], call["arguments"])
            results.append(result)
            if payload.get("trace_dbs"):
                dbs.append(_copy(db))
        replay = {"results": results, "db": db, "dbs": dbs}
    verdicts = []
    for item in payload["items"]:
        db = replay["db"] if item.get("db") == "replayed" else item["db"]
        namespace = _load("verify.py", "verifier_error")
        fn = namespace.get("verify")
        if not callable(fn):
            raise Failure("verifier_missing_verify", "verify.py must define verify(db, answer)")
        verdicts.append(_verdict(fn, _copy(db), _copy(item["answer"])))
    return {"ok": True, "replay": replay, "verdicts": verdicts}


def _snapshot(skip):
    found = {}
    for folder, _dirs, files in os.walk("."):
        for name in files:
            rel = os.path.normpath(os.path.join(folder, name))
            if rel not in skip and not os.path.islink(rel):
                with open(rel, "rb") as fh:
                    found[rel] = hashlib.sha256(fh.read()).hexdigest()
    return found


def script(payload):
    """run_python: execute code as __main__ in the folder; return the files it changed."""
    skip = {payload["harness"]}
    before = _snapshot(skip)
    namespace = {"__name__": "__main__"}
    error = None
    try:
        exec(compile(payload["code"], "<run_python>", "exec"), namespace)
    except SystemExit as exc:
        error = None if exc.code in (None, 0) else f"SystemExit: {exc.code}"
    except BaseException as exc:
        error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-4:])
    after = _snapshot(skip)
    changed, limit = {}, payload["max_file_bytes"]
    for rel, digest in sorted(after.items()):
        if before.get(rel) != digest:
            with open(rel, "rb") as fh:
                data = fh.read(limit + 1)
            try:
                changed[rel] = data.decode("utf-8") if len(data) <= limit else None
            except UnicodeDecodeError:
                changed[rel] = None
    removed = sorted(set(before) - set(after))
    return {"ok": error is None, "error": error, "changed": changed, "removed": removed}
