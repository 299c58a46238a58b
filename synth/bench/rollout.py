"""`synth bench rollout`: the rollout loop against the mock server, and its per-step CPU cost.

Throughput: the mock server runs in its own process with a fixed latency L and no faults; this
process runs C rollout workers (started staggered over one L, each running rollouts back to
back over tasks of every family) through one `OpenAICompletionsClient` that sends token ids.
Like vLLM and SGLang with `return_token_ids`, the mock echoes every prompt's ids in its
answer, so the client pays for receiving (and skipping) them.
After a warm-up of 4 L (every trajectory starts at once; the first steps carry the setup) the
completed model calls in a window give calls/s; efficiency = (calls/s) / (C/L). CPU per step
is this process's CPU in the window over those calls; the server's CPU (its own pid) and the
garbage collector's pauses in the window are reported too. The client runs with the collector
settings of the pipeline's rollout workers (`synth.infra.gc_tuning`); the same C is also run
with the default collector (`gc_default`) to show what the settings buy. A
ramp over C (same L, shorter windows) gives the highest call rate one client process
sustains at >= 0.95 efficiency; points above C run only while efficiency holds.

Step cost: in process, the scripted model directly (no HTTP) with long trajectories
(`extra_read_rounds`: every trajectory repeats one re-check call for 70+ steps) and a
tokenizer, so the incremental prompt text and ids are maintained. The cost of step i is the
CPU from the return of model call i to the start of call i+1 (parsing, the tool call,
rendering, tokenizing, building the next prompt): the model's own time is excluded, so only
our work counts. The ratio is the mean over steps 60-68 over the mean over steps 1-9 (windows
reduce noise; means over trajectories keep garbage collection and other rare costs). Real
model text never repeats, so the headline ratio tokenizes every step's text (segment cache
off); with the cache on, the repeated re-check text is free and the ratio is reported too
(`*_cached`: the smallest constant per step, so the strictest view of growth).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from synth.bench.envs import procedural_family_names
from synth.env import EnvFamily, Task, get_family
from synth.infra.gc_tuning import rollout_gc
from synth.policy.base import Completion, Policy, Prompt, Sampling
from synth.policy.mock_config import MockServerConfig
from synth.policy.mock_process import MockServerProcess
from synth.policy.openai import OpenAICompletionsClient
from synth.policy.scripted import ScriptedConfig, ScriptedModel
from synth.rollout.loop import Budgets, run_rollout
from synth.tokenizer import Tokenizer, load_tokenizer

TARGET_EFFICIENCY = 0.95
TARGET_STEP_COST_RATIO = 1.25
TARGET_PEAK_RSS_MB = 1024.0
EARLY_STEPS = range(1, 10)  # steps 1-9 ...
LATE_STEPS = range(60, 69)  # ... against steps 60-68 (centred on step 64)
RAMP = (256, 512, 1024, 2048, 4096)  # concurrencies of the ramp, at the same latency
RAMP_WINDOW_S = 6.0
STEP_TRAJECTORIES = 80
SAMPLING = Sampling(max_tokens=2048)


# -- tasks and counting ---------------------------------------------------------------------
def make_tasks(seeds_per_level: int) -> list[tuple[EnvFamily, Task]]:
    """Validated tasks from every procedural family and level, interleaved by family."""
    per_family = []
    for name in procedural_family_names():
        family = get_family(name)
        found = []
        for level, seed in itertools.product(family.levels, range(seeds_per_level)):
            task = family.generate(seed, level).task
            if task is not None:
                found.append((family, task))
        per_family.append(found)
    mixed = [t for group in itertools.zip_longest(*per_family) for t in group if t is not None]
    if not mixed:
        raise RuntimeError("no family generated a task")
    return mixed


class _Counted(Policy):
    """Counts completed calls of the wrapped policy; once `stopping`, fails new calls at once
    (so the workers drain without dropping requests the server is holding)."""

    def __init__(self, inner: Policy) -> None:
        self.inner, self.model, self.wants_token_ids = inner, inner.model, inner.wants_token_ids
        self.calls = 0
        self.errors = 0
        self.stopping = False

    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        if self.stopping:
            return Completion.failed("bench_stopped")
        completion = await self.inner.complete(prompt, sampling)
        self.calls += 1
        self.errors += completion.error is not None
        return completion


class _Stamped(Policy):
    """Records the process CPU time at the start and the end of every call."""

    def __init__(self, inner: ScriptedModel) -> None:
        self.inner, self.model = inner, inner.model
        self.starts: list[float] = []
        self.ends: list[float] = []

    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        self.starts.append(time.process_time())
        completion = self.inner.complete_now(prompt, sampling)
        self.ends.append(time.process_time())
        return completion


# -- throughput against the mock server ------------------------------------------------------
@dataclass
class _Window:
    concurrency: int
    latency_s: float
    calls: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    errors: int = 0
    trajectories: int = 0
    finishes: dict[str, int] = field(default_factory=dict)
    gc_pauses: list[float] = field(default_factory=list)  # seconds, in the window

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s if self.wall_s else 0.0

    @property
    def efficiency(self) -> float:
        return self.calls_per_s / (self.concurrency / self.latency_s)


async def _measure(url: str, tasks: list[tuple[EnvFamily, Task]], tokenizer: Tokenizer,
                   concurrency: int, latency_s: float, warmup_s: float, window_s: float,
                   server: psutil.Process, profiler: Any = None) -> _Window:
    """C staggered workers; counts calls, CPU and server CPU over `window_s` after warm-up
    (`profiler`, e.g. a `cProfile.Profile`, is enabled over the window only)."""
    client = OpenAICompletionsClient({
        "base_urls": [url], "model": "scripted-dsv32", "send": "token_ids",
        "max_concurrency_per_endpoint": concurrency, "request_timeout_s": 120 + 20 * latency_s,
        "connect_timeout_s": 60.0, "max_retries": 2, "backoff_base_s": 0.05,
        "backoff_max_s": 1.0})
    policy = _Counted(client)
    budgets = Budgets(max_tool_rounds=64)
    out = _Window(concurrency, latency_s)
    counting = False
    order = itertools.count()

    async def worker(index: int) -> None:
        await asyncio.sleep(latency_s * index / concurrency)  # spread the phases over one L
        while not policy.stopping:
            n = next(order)
            family, task = tasks[n % len(tasks)]
            traj = await run_rollout(task, family, policy, sampling=SAMPLING, budgets=budgets,
                                     tokenizer=tokenizer, sample_index=n // len(tasks))
            if counting:
                out.trajectories += 1
                reason = traj.finish_reason.split(":", 1)[0]
                out.finishes[reason] = out.finishes.get(reason, 0) + 1

    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        elif counting:
            out.gc_pauses.append(time.perf_counter() - gc_started[0])

    workers = [asyncio.create_task(worker(i)) for i in range(concurrency)]
    gc.callbacks.append(on_gc)
    try:
        await asyncio.sleep(warmup_s)
        counting = True
        calls0, errors0 = policy.calls, policy.errors
        wall0, cpu0, srv0 = time.perf_counter(), time.process_time(), _cpu(server)
        if profiler is not None:
            profiler.enable()
        await asyncio.sleep(window_s)
        if profiler is not None:
            profiler.disable()
        counting = False
        out.calls, out.errors = policy.calls - calls0, policy.errors - errors0
        out.wall_s = time.perf_counter() - wall0
        out.cpu_s = time.process_time() - cpu0
        out.server_cpu_s = _cpu(server) - srv0
    finally:
        gc.callbacks.remove(on_gc)
        policy.stopping = True
        _, late = await asyncio.wait(workers, timeout=2 * latency_s + 5.0)
        for w in late:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await client.close()
    return out


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def _row(w: _Window) -> dict[str, Any]:
    return {"concurrency": w.concurrency, "ideal_calls_per_s": w.concurrency / w.latency_s,
            "calls_per_s": round(w.calls_per_s, 1), "efficiency": round(w.efficiency, 4),
            "cpu_ms_per_step": round(1e3 * w.cpu_s / max(w.calls, 1), 4),
            "server_cpu_ms_per_call": round(1e3 * w.server_cpu_s / max(w.calls, 1), 4),
            "gc_pause_max_s": round(max(w.gc_pauses, default=0.0), 4), "errors": w.errors}


# -- step cost in process --------------------------------------------------------------------
def step_costs(n_trajectories: int, n_steps: int, tokenizer: Tokenizer,
               tasks: list[tuple[EnvFamily, Task]], reasoning_sentences: int = 2,
               ) -> list[list[float]]:
    """Per trajectory, the CPU seconds of steps 1..n_steps (see the module docstring)."""
    extra = n_steps + 2  # re-check rounds: the same call at every measured step
    model = ScriptedModel(ScriptedConfig(extra_read_rounds=extra,
                                         reasoning_sentences=reasoning_sentences))
    budgets = Budgets(max_tool_rounds=extra + 64)
    out: list[list[float]] = []

    async def run_all() -> None:
        for i in range(n_trajectories):
            family, task = tasks[i % len(tasks)]
            stamped = _Stamped(model)
            traj = await run_rollout(task, family, stamped, sampling=SAMPLING, budgets=budgets,
                                     tokenizer=tokenizer, sample_index=i)
            calls = len(stamped.starts)
            if calls <= n_steps:
                raise RuntimeError(f"{traj.trajectory_id}: only {calls} steps "
                                   f"({traj.finish_reason})")
            # step k (1-based): from the end of call k to the start of call k+1
            out.append([stamped.starts[k] - stamped.ends[k - 1] for k in range(1, n_steps + 1)])

    asyncio.run(run_all())
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def step_cost_summary(costs: list[list[float]], early: range = EARLY_STEPS,
                      late: range = LATE_STEPS) -> dict[str, Any]:
    """Mean CPU per step (ms) over trajectories; the late/early window ratio."""
    per_step = [1e3 * _mean([c[k] for c in costs]) for k in range(len(costs[0]))]
    first = _mean([per_step[k - 1] for k in early])
    last = _mean([per_step[k - 1] for k in late])
    return {"step_cost_ratio": last / first if first else float("inf"),
            "step1_cpu_ms": first, "step64_cpu_ms": last,
            "windows": f"steps {late.start}-{late.stop - 1} / {early.start}-{early.stop - 1}",
            "step_cpu_ms_by_step": [round(v, 4) for v in per_step]}


def _raise_fd_limit(wanted: int) -> None:
    """One socket per trajectory in flight: lift the soft open-files limit (the mock server
    process inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# -- the benchmark ---------------------------------------------------------------------------
def _throughput(concurrency: int, latency_s: float, duration_s: float, smoke: bool,
                tasks: list[tuple[EnvFamily, Task]], tokenizer: Tokenizer,
                ) -> tuple[_Window, float, dict[str, Any], list[dict[str, Any]]]:
    """(the main window, peak RSS in MiB right after it, the same C with the default collector,
    the ramp rows). Ramp points above C run only while efficiency holds."""
    below = [] if smoke else [c for c in RAMP if c < concurrency]
    above = [2 * concurrency] if smoke else [c for c in RAMP if c > concurrency]
    warmup_s = max(4.0 * latency_s, 0.5)  # all trajectories start together: let that settle
    ramp_window_s = min(duration_s, RAMP_WINDOW_S)
    mock = MockServerProcess(MockServerConfig(latency_s=latency_s, latency_distribution="fixed"))
    url = mock.start()
    try:
        assert mock.proc is not None
        server = psutil.Process(mock.proc.pid)

        def run(c: int, window_s: float) -> _Window:
            gc.collect()
            return asyncio.run(_measure(url, tasks, tokenizer, c, latency_s, warmup_s,
                                        window_s, server))

        untuned = _row(run(concurrency, ramp_window_s))  # for comparison: default collector
        untuned["gc_threshold"] = list(gc.get_threshold())
        with rollout_gc():  # as the pipeline's rollout workers run
            main = run(concurrency, duration_s)
            peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            ramp = [_row(main)] + [_row(run(c, ramp_window_s)) for c in below]
            ok = smoke or main.efficiency >= TARGET_EFFICIENCY
            for c in above:
                ramp.append(_row(run(c, ramp_window_s)) if ok else
                            {"concurrency": c, "skipped": "efficiency fell short at a lower C"})
                ok = smoke or (ok and ramp[-1]["efficiency"] >= TARGET_EFFICIENCY)
    finally:
        mock.stop()
    return main, peak_rss_mb, untuned, sorted(ramp, key=lambda r: r["concurrency"])


def bench_rollout(concurrency: int = 1024, latency_s: float = 2.0, duration_s: float = 30.0,
                  smoke: bool = False) -> dict[str, Any]:
    """Efficiency vs C/L, CPU per step, the sustainable call rate, step cost and peak memory."""
    random.seed(0)
    _raise_fd_limit(2 * max(*RAMP, 2 * concurrency) + 256)
    tokenizer = load_tokenizer()
    tasks = make_tasks(1 if smoke else 8)
    main, peak_rss_mb, untuned, ramp = _throughput(concurrency, latency_s, duration_s, smoke, tasks,
                                          tokenizer)
    sustained = [r["calls_per_s"] for r in ramp if r.get("efficiency", 0) >= TARGET_EFFICIENCY]
    # step cost: headline without the segment cache (see the module docstring), then with it
    n_traj, n_steps = (3, 10) if smoke else (STEP_TRAJECTORIES, LATE_STEPS.stop)
    early, late = (range(1, 4), range(7, 10)) if smoke else (EARLY_STEPS, LATE_STEPS)
    uncached = Tokenizer(tokenizer.hf, tokenizer.source, tokenizer.sha256, cache_size=0)
    steps = step_cost_summary(step_costs(n_traj, n_steps, uncached, tasks), early, late)
    cached = step_cost_summary(step_costs(n_traj, n_steps, tokenizer, tasks), early, late)
    calls = max(main.calls, 1)
    result: dict[str, Any] = {
        "efficiency": main.efficiency, "calls_per_s": main.calls_per_s,
        "ideal_calls_per_s": concurrency / latency_s,
        "cpu_ms_per_step": 1e3 * main.cpu_s / calls,
        "server_cpu_ms_per_call": 1e3 * main.server_cpu_s / calls,
        "client_cpu_utilization": main.cpu_s / main.wall_s if main.wall_s else 0.0,
        "calls": main.calls, "call_errors": main.errors, "window_s": main.wall_s,
        "trajectories": main.trajectories, "finishes": main.finishes,
        "gc_pause_s": sum(main.gc_pauses), "gc_pause_max_s": max(main.gc_pauses, default=0.0),
        "max_calls_per_s_at_95": max(sustained, default=0.0), "ramp": ramp,
        "gc_default": untuned,
        "step_cost_ratio": steps["step_cost_ratio"], "step1_cpu_ms": steps["step1_cpu_ms"],
        "step64_cpu_ms": steps["step64_cpu_ms"], "step_cost_windows": steps["windows"],
        "step_cost_ratio_cached": cached["step_cost_ratio"],
        "step1_cpu_ms_cached": cached["step1_cpu_ms"],
        "step64_cpu_ms_cached": cached["step64_cpu_ms"], "step_trajectories": n_traj,
        "peak_rss_mb": peak_rss_mb, "concurrency": concurrency, "latency_s": latency_s,
        "duration_s": duration_s, "smoke": smoke,
        "targets": {"efficiency": TARGET_EFFICIENCY, "step_cost_ratio": TARGET_STEP_COST_RATIO,
                    "peak_rss_mb": TARGET_PEAK_RSS_MB},
    }
    result["meets_targets"] = {
        "efficiency": main.efficiency >= TARGET_EFFICIENCY,
        "step_cost_ratio": steps["step_cost_ratio"] <= TARGET_STEP_COST_RATIO,
        "peak_rss_mb": peak_rss_mb < TARGET_PEAK_RSS_MB,
    }
    return result
