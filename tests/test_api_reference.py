"""The API reference builds from the docstrings without a warning (pdoc), every public module a page."""
import warnings

import pytest

MODULES = ("nngraph", "nngraph.datasets", "nngraph.models", "nngraph.augment", "nngraph.lightning",
           "nngraph.lightning.classifier", "nngraph.lightning.data", "nngraph.lightning.contrastive",
           "nngraph.lightning.callbacks", "nngraph.lightning.checkpoints")


def test_the_api_reference_builds_without_warnings(tmp_path):
    pdoc = pytest.importorskip("pdoc")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*MODULES, output_directory=tmp_path)
    theirs = [f"{w.filename}: {w.message}" for w in caught if "pdoc" in w.filename]
    assert not theirs, theirs
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    for page in ("nngraph.html", "nngraph/lightning/contrastive.html", "nngraph/datasets.html", "nngraph/augment.html"):
        assert page in pages, sorted(pages)
