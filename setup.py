"""Build hook: ship the top-level data/ and configs/ folders inside the wheel, as the package
folders synth/_data and synth/_configs (found by synth.resources)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = {"data": "_data", "configs": "_configs"}
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


class BuildWithResources(build_py):
    """build_py that also copies the resource folders into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout
            return
        for source, target in RESOURCES.items():
            destination = Path(self.build_lib) / "synth" / target
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(source, destination, ignore=IGNORE)


setup(cmdclass={"build_py": BuildWithResources})
