"""Only a build hook: the wheel carries the top-level `dataset_card.md` inside the package.

The card template lives at the top of the repository (one source, where the design card puts
it); `audiosetmix_lib.card.card_template` reads the packaged copy in an installed wheel and the
top-level file in a checkout. Everything else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CARD_TEMPLATE = "dataset_card.md"


class BuildPyWithCardTemplate(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "audiosetmix_lib" / CARD_TEMPLATE
        self.mkpath(str(target.parent))
        self.copy_file(CARD_TEMPLATE, str(target))


setup(cmdclass={"build_py": BuildPyWithCardTemplate})
