"""`synth`: run the pipeline, inspect its output, browse environments, benchmark."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from synth.cli.bench import bench_app
from synth.cli.envs import envs_app
from synth.cli.report import report
from synth.cli.search import serve_search
from synth.cli.version import print_version
from synth.resources import config_path

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Agentic post-training data for DeepSeek-V3.2.")
app.add_typer(envs_app, name="envs")
app.add_typer(bench_app, name="bench")
app.command()(report)
app.command("serve-search")(serve_search)
console = Console()
err = Console(stderr=True, soft_wrap=True)  # one error, one line (never wrapped)

DEFAULT_CONFIG = config_path("miniature.yaml")


class _State:
    debug = False


@app.callback()
def root(
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks of errors")] = False,
    version: Annotated[bool, typer.Option("--version", callback=print_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """Agentic post-training data for DeepSeek-V3.2."""
    _State.debug = debug


def config_error(message: str) -> typer.Exit:
    """Bad configuration: say which field, exit with code 2."""
    err.print(f"[bold red]config error:[/] {message}", highlight=False)
    return typer.Exit(code=2)


@app.command()
def run(
    config: Annotated[Path | None, typer.Argument(help="job YAML (default: miniature)")] = None,
    output: Annotated[str | None, typer.Option(help="local path or URI, e.g. s3://b/p")] = None,
    seed: Annotated[int | None, typer.Option(help="job seed")] = None,
    k: Annotated[int | None, typer.Option(help="rollouts per task")] = None,
    tasks: Annotated[int | None, typer.Option(help="tasks per family (all families)")] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    overwrite: Annotated[bool, typer.Option(help="delete the output's earlier job files "
                                                 "first (needed to change the config)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="no progress; print the manifest as "
                                                         "one JSON object at the end")] = False,
) -> None:
    """Generate tasks, roll out, verify, filter by pass@k and write the dataset."""
    from synth.cli.progress import interrupted, run_with_progress
    from synth.pipeline.config import ConfigError, load_config

    overrides: dict[str, Any] = {}
    if output is not None:
        overrides["output"] = output
    if seed is not None:
        overrides["seed"] = seed
    if k is not None:
        overrides["k"] = k
    if ray_address is not None:
        overrides["ray.address"] = ray_address
    path = config or DEFAULT_CONFIG
    try:
        job = load_config(path, overrides)
        if tasks is not None:
            families = [f.model_copy(update={"tasks": tasks}) for f in job.families]
            job = job.model_copy(update={"families": families})
        from synth.pipeline.validate import check_job

        check_job(job)
        result = run_with_progress(job, console, quiet=quiet or as_json, overwrite=overwrite,
                                   summary=not as_json)
    except ConfigError as exc:
        raise config_error(str(exc)) from None
    except KeyboardInterrupt:
        err.print(interrupted(job if "job" in locals() else None), highlight=False)
        raise typer.Exit(code=130) from None
    if as_json:
        from synth.infra.storage import Output

        sys.stdout.write(json.dumps(json.loads(Output(job.output).read_text("manifest.json")
                                               or "{}"), sort_keys=True) + "\n")
    if result.failed:
        err.print(f"[red]{len(result.failed)} shard(s) failed; rerunning the same command "
                  "completes them[/]", highlight=False)
        for record in result.failed[:5]:
            err.print(f"  {record['unit_id']}: {record['error']}", highlight=False)
        raise typer.Exit(code=1)


@app.command()
def inspect(
    path: Annotated[str, typer.Argument(help="dataset folder or URI")],
    n: Annotated[int, typer.Option(help="samples to show")] = 2,
    family: Annotated[str | None, typer.Option(help="only this family")] = None,
) -> None:
    """Show a few samples with the trained (mask = 1) spans highlighted."""
    from synth.cli.inspect import show_samples
    from synth.infra.storage import Output

    if not Output(path).exists("data"):
        err.print(f"[bold red]error:[/] no dataset at {path} (it has no data/ folder)",
                  highlight=False)
        raise typer.Exit(code=2)
    show_samples(path, n=n, family=family, console=console)


@app.command()
def render(
    conversation: Annotated[Path, typer.Argument(help="JSON file: a message list, or "
                                                     "{'messages': [...], 'tools': [...]}")],
    thinking_mode: Annotated[str, typer.Option(help="thinking or chat")] = "thinking",
    ids: Annotated[bool, typer.Option(help="also print token ids")] = True,
) -> None:
    """Render a conversation to its V3.2 prompt text and token ids."""
    from synth.template import encode_messages
    from synth.tokenizer import load_tokenizer

    data = json.loads(conversation.read_text(encoding="utf-8"))
    messages = data["messages"] if isinstance(data, dict) else data
    if isinstance(data, dict) and data.get("tools") and messages and \
            messages[0].get("role") == "system":
        messages[0] = {**messages[0], "tools": data["tools"]}
    try:
        text = encode_messages(messages, thinking_mode=thinking_mode)
    except ValueError as exc:
        err.print(f"[red]cannot render:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    sys.stdout.write(text + "\n")
    if ids:
        token_ids = load_tokenizer().encode(text)
        sys.stdout.write(json.dumps({"n_tokens": len(token_ids), "input_ids": token_ids}) + "\n")


@app.command("serve-mock")
def serve_mock(
    host: Annotated[str, typer.Option(help="loopback address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    config: Annotated[Path | None, typer.Option(help="mock server config (YAML/JSON)")] = None,
) -> None:
    """Serve /v1/completions and /v1/models backed by the scripted model."""
    import yaml

    from synth.policy.mock_server import MockServerConfig, run_mock_server

    data = yaml.safe_load(config.read_text()) if config else {}
    try:
        server_config = MockServerConfig.model_validate(data or {})
    except ValueError as exc:
        raise config_error(str(exc)) from None
    run_mock_server(server_config, host=host, port=port)


@app.command()
def synthesize(
    config: Annotated[Path | None, typer.Argument(help="synthesis YAML")] = None,
    output: Annotated[str | None, typer.Option(help="where to write environments")] = None,
) -> None:
    """Let the model write environments (tools, tasks, verifiers), checked in a sandbox."""
    from synth.synthesis.cli import run_synthesis_command

    run_synthesis_command(config, output, console=console, err=err)


def main() -> None:
    """The `synth` command: every error is one line (a traceback only with --debug)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        app()
    except Exception as exc:
        if "--debug" in sys.argv[1:]:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        err.print(f"[bold red]error:[/] {type(exc).__name__}: {first} (--debug shows the "
                  "traceback)", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
