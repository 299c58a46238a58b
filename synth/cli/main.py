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
from synth.cli.version import root_options

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Agentic post-training data for DeepSeek-V3.2.")
app.add_typer(envs_app, name="envs")
app.add_typer(bench_app, name="bench")
app.command()(report)
app.callback()(root_options)
console = Console()
err = Console(stderr=True)

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "miniature.yaml"


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
) -> None:
    """Generate tasks, roll out, verify, filter by pass@k and write the dataset."""
    from synth.cli.progress import run_with_progress
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
        from synth.pipeline.validate import check_families

        check_families(job)
    except ConfigError as exc:
        raise config_error(str(exc)) from None
    result = run_with_progress(job, console, quiet=quiet)
    if result.failed:
        err.print(f"[red]{len(result.failed)} shard(s) failed; rerun to retry them[/]")
        for record in result.failed[:5]:
            err.print(f"  {record['shard_id']}: {record['error']}", highlight=False)
        raise typer.Exit(code=1)


@app.command()
def inspect(
    path: Annotated[str, typer.Argument(help="dataset folder or URI")],
    n: Annotated[int, typer.Option(help="samples to show")] = 2,
    family: Annotated[str | None, typer.Option(help="only this family")] = None,
) -> None:
    """Show a few samples with the trained (mask = 1) spans highlighted."""
    from synth.cli.inspect import show_samples

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
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    app()


if __name__ == "__main__":
    main()
