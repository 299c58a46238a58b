"""A built wheel runs outside the checkout: data and default configs travel inside it."""

from __future__ import annotations

import glob
import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(out)], check=True,
                   capture_output=True, text=True)
    (built,) = glob.glob(str(out / "synth-*.whl"))
    return Path(built)


def test_wheel_installed_in_a_fresh_venv_runs_the_default_job(wheel, tmp_path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = next(Path(p) for p in glob.glob(str(venv / "lib" / "python3*" / "site-packages")))
    # The dependencies come from this environment's site-packages (a path entry, so the
    # editable install of the checkout that lives there is not activated in the new venv).
    deps = [p for p in site.getsitepackages() if "site-packages" in p]
    (purelib / "deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(purelib), str(wheel)], check=True, capture_output=True, text=True)
    python = venv / "bin" / "python"
    where = subprocess.run([str(python), "-c", "import synth, synth.data as d, "
                            "synth.resources as r; print(synth.__file__); print(d.data_dir()); "
                            "print(r.config_path('miniature.yaml')); "
                            "from synth.search.options import PROMPTS; "
                            "print(r.config_path(PROMPTS) / 'answer.md')"],
                           cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    module, data, config, prompt = where.split()
    assert module.startswith(str(purelib)) and data.startswith(str(purelib)), where
    assert config.startswith(str(purelib)), where
    assert prompt.startswith(str(purelib)) and Path(prompt).is_file(), where  # search prompts
    out = tmp_path / "out"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": ""}
    env.pop("SYNTH_DATA_DIR", None)
    done = subprocess.run([str(python), "-m", "synth.cli.main", "run", "--tasks", "1", "--k",
                           "2", "--output", str(out), "--quiet"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    families = yaml.safe_load((ROOT / "configs" / "miniature.yaml").read_text())["families"]
    assert manifest["complete"] and manifest["summary"]["totals"]["tasks"] == len(families)
