"""Running mock servers: in the foreground (`synth serve-mock`) or as a child process.

`MockServerProcess(config, count=8)` starts `count` servers in one separate process (so their
CPU is not the client's) and returns once every one listens; `base_urls` lists them and
`stats()` reads their `/mock/stats`. The child prints `mock server listening on URL` per
server once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from synth.infra.gc_tuning import rollout_gc
from synth.policy.mock_config import MockServerConfig
from synth.policy.mock_server import MockServer

READY = "mock server listening on "


async def _serve(config: MockServerConfig, host: str, port: int, count: int) -> None:
    servers = [MockServer(config, host, port + i if port else 0) for i in range(count)]
    try:
        for server in servers:
            print(READY + await server.start(), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        for server in servers:
            await server.stop()


def run_mock_servers(config: MockServerConfig, host: str = "127.0.0.1", port: int = 8000,
                     count: int = 1) -> None:
    """Serve until SIGINT/SIGTERM. Like a rollout worker, a server holds a thousand requests
    at once: collector pauses would stall them all."""
    with rollout_gc():
        asyncio.run(_serve(config, host, port, count))


class MockServerProcess:
    """Mock servers in a separate process; `start()` returns the first URL."""

    def __init__(self, config: MockServerConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0, startup_timeout_s: float = 120.0, count: int = 1) -> None:
        self.config = config or MockServerConfig()
        self.host, self.port, self.count = host, port, count
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_urls: list[str] = []

    @property
    def base_url(self) -> str | None:
        return self.base_urls[0] if self.base_urls else None

    def start(self) -> str:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "synth.policy.mock_process", "--host", self.host,
               "--port", str(self.port), "--count", str(self.count),
               "--config-json", self.config.model_dump_json()]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
        assert self.proc.stdout is not None
        fd, pending = self.proc.stdout.fileno(), b""
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline and len(self.base_urls) < self.count:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break  # the child closed its output: it is gone
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self.base_urls += [line.decode().split()[-1] for line in lines
                                   if line.startswith(READY.encode())]
            elif self.proc.poll() is not None:
                break
        if len(self.base_urls) == self.count:
            return self.base_urls[0]
        self.stop()
        raise RuntimeError("the mock server process did not start")

    def stats(self) -> list[dict[str, Any]]:
        """Every server's `/mock/stats`."""
        out = []
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
        for url in self.base_urls:
            with direct.open(url + "/mock/stats", timeout=30) as resp:
                out.append(json.loads(resp.read()))
        return out

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
        self.base_urls = []

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve mock vLLM/SGLang endpoints.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="first port (0: any free)")
    parser.add_argument("--count", type=int, default=1, help="servers, on consecutive ports")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config-json", help="MockServerConfig as JSON")
    group.add_argument("--config", type=Path, help="MockServerConfig as a JSON/YAML file")
    args = parser.parse_args(argv)
    data: Any = {}
    if args.config_json:
        data = json.loads(args.config_json)
    elif args.config:
        import yaml

        data = yaml.safe_load(args.config.read_text()) or {}
    run_mock_servers(MockServerConfig.model_validate(data), args.host, args.port, args.count)


if __name__ == "__main__":
    main()
