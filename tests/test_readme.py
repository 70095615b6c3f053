"""The README's relative links and images point at files of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _relative_links(text: str) -> list[str]:
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]


def _anchors(text: str) -> set[str]:
    """GitHub's anchors of the markdown headings."""
    headings = re.findall(r"^#+\s+(.*)$", text, flags=re.M)
    return {
        re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings
    }


def test_relative_links_are_found():
    assert len(_relative_links(README)) >= 3  # the results folder and plots


@pytest.mark.parametrize("target", _relative_links(README))
def test_relative_link_exists(target):
    path = REPO / target.split("#")[0]
    assert path.exists(), f"README links to {target}, which is not in the repository"


@pytest.mark.parametrize("anchor", re.findall(r"\]\(#([^)]+)\)", README))
def test_anchor_exists(anchor):
    assert anchor in _anchors(README), f"README links to #{anchor}: no such heading"


def test_link_check_catches_a_missing_file():
    assert _relative_links("see ![plot](docs/none.png) and [x](https://a.b/c)") == [
        "docs/none.png"
    ]
    assert not (REPO / "docs/none.png").exists()
