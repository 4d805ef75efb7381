"""The domain contract and Meta's webhook bodies live in ../shared beside the repository; the
repository keeps its own copies, so a clone alone runs every test. When ../shared is there, each
copy must still match it: an update there is noticed here, and copied."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

# the file in ../shared -> its copy in the repository
COPIES = {
    "domain/QUOTING.md": "docs/domain/QUOTING.md",
    "domain/INTENTS.md": "docs/domain/INTENTS.md",
    "domain/catalog.csv": "data/catalog.csv",
    "domain/quote_examples.json": "tests/data/quote_examples.json",
    "domain/nlu_examples.jsonl": "agents/nlu/training/dev.jsonl",
    **{
        f"fixtures/whatsapp/{path.name}": f"tests/fixtures/whatsapp/{path.name}"
        for path in sorted((ROOT / "tests" / "fixtures" / "whatsapp").iterdir())
    },
}


def test_every_copy_is_in_the_repository():
    assert [copy for copy in COPIES.values() if not (ROOT / copy).is_file()] == []


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"no {SHARED} beside the repository: the copies stand alone")
def test_the_copies_match_the_shared_contract():
    drifted = [
        f"{original} -> {copy}"
        for original, copy in COPIES.items()
        if (SHARED / original).read_bytes() != (ROOT / copy).read_bytes()
    ]
    assert drifted == [], f"copy these again from {SHARED}: {drifted}"
    # and nothing new in ../shared that the repository does not keep
    shared_files = {
        str(path.relative_to(SHARED))
        for folder in ("domain", "fixtures/whatsapp")
        for path in (SHARED / folder).iterdir()
        if path.is_file()
    }
    assert sorted(shared_files - set(COPIES)) == []
