"""The README as written: its API block runs, its results table is the committed tables."""
import csv
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_api_block_runs_as_written(tmp_path, monkeypatch):
    text = README.read_text()
    section = text[text.index("## The API in a few lines"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert tuple(scope["logits"].shape) == (16, 10)
    assert list(scope["state"]) == list(scope["net"].state_dict())


def _cell(text: str):
    """'52.35 ± 0.77' -> (52.35, 0.77); '—' or '' -> None."""
    text = text.strip()
    if text in ("", "—"):
        return None
    mean, std = text.split("±")
    return float(mean), float(std)


def test_the_readme_results_table_is_the_committed_tables():
    # The README's short table is copied by hand from results/table1/*.csv: a cell that drifts
    # from them (a rerun, a new seed) would report a number no committed run made.
    results = README.parent / "results" / "table1"
    committed = {}
    for dataset in ("fmnist", "modelnet10"):
        with open(results / f"{dataset}.csv") as f:
            for row in csv.DictReader(f):
                if row["model"] != "DWS":
                    continue
                label = row["augmentation"].removesuffix(" (ours)")
                ours = (float(row["mean"]), float(row["std"])) if row["n"] != "0" else None
                paper = (float(row["paper_mean"]), float(row["paper_std"])) if row["paper_mean"] else None
                committed[label, int(row["views"]), dataset] = (ours, paper)

    section = README.read_text().split("## Results", 1)[1]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| ")]
    assert rows[0][0].strip() == "Augmentation" and len(rows) > 5, "the README's results table moved"
    checked = 0
    for label, *cells in rows[1:]:
        label, views = label.strip(), 1
        if label.endswith(", 10 views"):
            label, views = label.removesuffix(", 10 views"), 10
        for dataset, (ours, paper) in zip(("fmnist", "modelnet10"), zip(cells[::2], cells[1::2])):
            want_ours, want_paper = committed.get((label, views, dataset), (None, None))
            assert _cell(ours) == want_ours, (label, views, dataset, ours, want_ours)
            assert _cell(paper) in (want_paper, None), (label, views, dataset, paper, want_paper)
            checked += _cell(ours) is not None
    assert checked >= 15
