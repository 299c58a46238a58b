"""`synth envs`: list the catalog, show one task with its reference trace and verdict."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

WIDE_TABLE = 110  # narrower consoles get the compact listing

envs_app = typer.Typer(no_args_is_help=True, help="Browse environment families.")
console = Console()


def level_range(levels: list[int]) -> str:
    """'1-5' for consecutive levels, else '1,3,5'."""
    if len(levels) > 2 and levels == list(range(levels[0], levels[-1] + 1)):
        return f"{levels[0]}-{levels[-1]}"
    return ",".join(map(str, levels))


@envs_app.command("list")
def list_families(
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list")] = False,
) -> None:
    """Every registered family: tools, levels, multi-turn, verification kind."""
    from synth.env import family_names, get_family

    rows = []
    for name in family_names():
        family = get_family(name)
        rows.append({
            "name": name, "description": family.description, "tools": len(family.tools),
            "difficulties": list(family.levels), "multi_turn": family.multi_turn,
            "verification": family.verification,
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    if console.width >= WIDE_TABLE:
        table = Table(title="environment families")
        table.add_column("name", no_wrap=True)
        for column in ("tools", "levels", "multi-turn", "verification"):
            table.add_column(column, no_wrap=True)
        table.add_column("description", ratio=1)
        for r in rows:
            table.add_row(r["name"], str(r["tools"]), level_range(r["difficulties"]),
                          "yes" if r["multi_turn"] else "no", r["verification"],
                          r["description"])
        console.print(table)
        return
    # narrow terminals: one summary line per family, its description wrapped underneath
    for r in rows:
        turns = "multi-turn" if r["multi_turn"] else "single-turn"
        console.print(Text.assemble(
            (r["name"], "bold cyan"), f"  {r['tools']} tools · levels "
            f"{level_range(r['difficulties'])} · {turns} · verifies {r['verification']}"))
        console.print(Padding(r["description"], (0, 0, 0, 2), expand=False), highlight=False)


@envs_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="family name")],
    seed: Annotated[int, typer.Option(help="task seed")] = 0,
    difficulty: Annotated[int, typer.Option(help="level")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print the task as JSON")] = False,
) -> None:
    """A task: prompts, tools, the reference solution run through the tools, the verdict."""
    from synth.env import Environment, get_family

    try:
        family = get_family(name)
    except KeyError as exc:
        console.print(f"[red]{exc.args[0]}[/]")
        raise typer.Exit(code=2) from None
    if difficulty not in family.levels:
        console.print(f"[red]difficulty {difficulty} not in {list(family.levels)}[/]")
        raise typer.Exit(code=2)
    generated = family.generate(seed, difficulty)
    if generated.task is None:
        console.print(f"[yellow]seed {seed} discarded at generation: {generated.discard}[/]")
        raise typer.Exit(code=1)
    task = generated.task
    if as_json:
        typer.echo(json.dumps(task.to_json(), indent=1, ensure_ascii=False))
        return
    console.rule(f"{task.task_id}")
    console.print(f"[bold]system[/] {task.system_prompt}", highlight=False)
    for i, turn in enumerate(task.user_turns):
        console.print(f"[bold]user (turn {i})[/] {turn}", highlight=False)
    console.print(f"[bold]tools[/] {', '.join(task.tool_names)}")
    env = Environment(family, task)
    for i, turn in enumerate(task.reference):
        console.rule(f"reference, turn {i}")
        for round_ in turn.rounds:
            for call in round_:
                result = env.call(call.name, call.arguments)
                args = json.dumps(call.arguments, ensure_ascii=False)
                console.print(f"[cyan]{call.name}[/]({args})", highlight=False)
                console.print(f"  -> {result.text[:300]}", highlight=False)
        console.print(f"[bold]answer[/] {turn.answer}", highlight=False)
    verdict = env.verify(task.reference[-1].answer)
    colour = "green" if verdict.passed else "red"
    console.print(f"[{colour}]verdict: score {verdict.score} — {verdict.reason}[/]",
                  highlight=False)
    console.print(f"metadata: {json.dumps(task.metadata)}", highlight=False)
