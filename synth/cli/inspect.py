"""`synth inspect`: a few samples, with the trained (mask = 1) spans highlighted."""

from __future__ import annotations

import pyarrow.dataset as ds
from rich.console import Console
from rich.text import Text

from synth.infra.storage import Output
from synth.report.conversation import mask_runs
from synth.tokenizer import load_tokenizer


def show_samples(path: str, *, n: int, family: str | None, console: Console) -> None:
    output = Output(path)
    dataset = ds.dataset(output.path("data"), filesystem=output.fs, format="parquet")
    table = dataset.to_table(filter=(ds.field("family") == family) if family else None)
    if table.num_rows == 0:
        console.print("[yellow]no samples[/]")
        return
    tokenizer = load_tokenizer()
    console.print(f"{table.num_rows} samples; showing {min(n, table.num_rows)} "
                  "([green]green[/] = trained tokens, mask 1)")
    for row in table.slice(0, n).to_pylist():
        console.rule(f"{row['sample_id']}  reward {row['reward']}  "
                     f"pass rate {row['task_pass_rate']}  {row['n_tokens']} tokens "
                     f"({row['n_trained_tokens']} trained)")
        text = Text()
        for value, ids in mask_runs(row["input_ids"], row["assistant_masks"]):
            text.append(tokenizer.decode(ids), style="green" if value else "dim")
        console.print(text)
