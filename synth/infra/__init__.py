"""The lowest layer: output storage and atomic commits, the strict config base, Ray helpers,
the generic runner of committed work units and process tuning. Nothing here imports any other
`synth` package."""
