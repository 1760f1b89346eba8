"""The pictures the docs show come from docs/screenshots.py: every image README.md and docs/*.md
show is in docs/images/manifest.json (image, page, commit) and exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def shown_images() -> dict[str, set[str]]:
    """{image path relative to docs/: the documents showing it}."""
    shown: dict[str, set[str]] = {}
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in IMAGE_LINK.finditer(doc.read_text(encoding="utf-8")):
            target = match.group(1) or match.group(2)
            if target.startswith(("http://", "https://")):
                continue
            image = (doc.parent / target).resolve().relative_to(ROOT / "docs").as_posix()
            shown.setdefault(image, set()).add(doc.name)
    return shown


def test_the_docs_show_the_consoles() -> None:
    assert {"images/board.png", "images/mdt.png", "images/cctv.png"} <= set(shown_images())


def test_every_image_the_docs_show_was_made_by_the_screenshot_script() -> None:
    manifest = json.loads((ROOT / "docs" / "images" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["made_by"] == "docs/screenshots.py"
    made = {entry["image"]: entry for entry in manifest["images"]}
    for entry in made.values():
        assert entry["page"].startswith("/")
        assert re.fullmatch(r"[0-9a-f]{7,40}", entry["commit"])
    for image, docs in shown_images().items():
        assert image in made, f"{image} (shown in {sorted(docs)}) is not in the manifest"
        assert (ROOT / "docs" / image).is_file(), image
