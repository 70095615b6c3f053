"""Print the minimum versions pyproject.toml declares, as ``name==version`` lines.

Used by ``make test-min``: the runtime dependencies and those of the ``test``
extra, each at its declared lower bound (torch excepted: it is installed
first, as ``make test`` installs it, from the ``TORCH`` requirement).

    python tools/min_requirements.py [pyproject.toml]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

KEPT_AS_INSTALLED = {"torch"}
LOWER_BOUND = re.compile(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)\s*>=\s*([^,;\s]+)")


def minimum_pins(requirements: list[str]) -> list[str]:
    """``name==lower`` for each requirement with a ``>=`` bound.

    Examples
    --------
    >>> minimum_pins(["numpy>=1.24", "dask[distributed]>=2025.1,<2026", "torch>=2"])
    ['numpy==1.24', 'dask[distributed]==2025.1']
    """
    pins = []
    for requirement in requirements:
        match = LOWER_BOUND.match(requirement)
        if match is None:
            raise ValueError(f"expected 'name>=version', got {requirement!r}")
        name, version = match.groups()
        if name.split("[")[0].lower() not in KEPT_AS_INSTALLED:
            pins.append(f"{name}=={version}")
    return list(dict.fromkeys(pins))


def main(path: str = "pyproject.toml") -> None:
    if tomllib is None:
        raise SystemExit("tools/min_requirements.py needs Python >= 3.11 (tomllib)")
    project = tomllib.loads(Path(path).read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    print("\n".join(minimum_pins(requirements)))


if __name__ == "__main__":
    main(*sys.argv[1:])
