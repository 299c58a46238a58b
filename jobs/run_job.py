"""Ray job entrypoint for `ray job submit ... -- python jobs/run_job.py CONFIG`.

Runs inside the job's working directory on the cluster and connects to that cluster (Ray sets
RAY_ADDRESS for job drivers). Outputs go to the config's `output`, which must be an absolute
path or a URI: the working directory is temporary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth.pipeline.config import ConfigError, load_config
from synth.pipeline.job import run_job
from synth.pipeline.validate import check_job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="job YAML (relative to the working directory)")
    parser.add_argument("--output", help="override the output location")
    parser.add_argument("--seed", type=int, help="override the job seed")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the output's earlier job files first")
    args = parser.parse_args()
    overrides = {k: v for k, v in (("output", args.output), ("seed", args.seed)) if v is not None}
    try:
        config = load_config(args.config, overrides)
        check_job(config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if "://" not in config.output and not Path(config.output).is_absolute():
        print("config error: output: use an absolute path or a URI in a Ray job "
              "(the job's working directory is temporary)", file=sys.stderr)
        return 2
    try:
        result = run_job(config, overwrite=args.overwrite)
    except ConfigError as exc:  # an unwritable output, or one made by another config
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    print(f"shards committed {result.committed}/{result.planned}, "
          f"samples {result.summary['tokens']['samples']}, wall {result.wall_s:.1f} s")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
