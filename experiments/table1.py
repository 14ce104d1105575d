"""The paper's Table 1 protocol: augmentations x models (DWS, GNN) x views x seeds, test accuracy at
the best validation epoch, mean +- std over seeds, beside the paper's numbers.

    python -m experiments.table1 --data DIR --out results/fmnist [--views 1 10] [--seeds 0 1 2]

A dataset fitted with 10 views serves both columns (1-view runs train on view 0 only). Each run
writes ``<out>/runs/<model>-<augment>-v<views>-s<seed>/result.json``; rerunning the command skips
finished runs and resumes an interrupted one from its checkpoint, then rewrites ``table1.md`` and
``table1.csv`` from whatever results exist (``--aggregate-only`` does just that).

``--jobs N`` runs up to N runs at once, each an ``experiments.train`` process (give each few
``--threads``, or its own GPU through ``CUDA_VISIBLE_DEVICES``); ``--list`` prints the command of
every missing run instead, one per line, for any scheduler (a SLURM array, a cluster queue); rerun
with ``--aggregate-only`` when they are done.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import shlex
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from nngraph.augment.registry import split_names
from nngraph.datasets.shards import atomic_write_bytes

from .cli import Failed, Parser, non_negative_int, positive_int
from .config import parse
from nngraph.models import MODELS
from .records import InUse, lock_folder
from .train import RESULT, command, data_id, finished, identity, parser as train_parser, run_training, train

# (row label, augmentation name); the last row goes beyond the paper.
ROWS = [
    ("No augmentation", "none"), ("Translate", "translate"), ("Rotation", "rotate"), ("Scale", "scale"),
    ("Gaussian noise", "noise"), ("SIREN bias", "siren_bias"), ("SIREN negation", "siren_negation"),
    ("Dropout", "dropout"), ("Quantile dropout", "quantile_dropout"), ("MixUp", "mixup"),
    ("MixUp + random perm.", "mixup_permutation"), ("Alignment + MixUp", "mixup_weight_matching"),
    ("Signed alignment + MixUp (ours)", "mixup_signed_weight_matching"),
]
MODEL_LABEL = {"dws": "DWS", "rt": "GNN"}
PAPER_CSV = Path(__file__).with_name("paper_table1.csv")  # the paper's Table 1, long form
# Appendix C: FMNIST 300 epochs for 1 view, 100 for 10 views; ModelNet40 250.
PAPER_EPOCHS = {"fmnist": {1: 300, 10: 100}, "modelnet40": {1: 250, 10: 250}}


def load_paper(path: Path = PAPER_CSV) -> dict:
    """{(label, model, dataset, views): (mean, std)} from the paper's Table 1 CSV (empty if absent)."""
    if not path.is_file():
        return {}
    out = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["mean"]:
                out[(r["augmentation"], r["model"], r["dataset"], int(r["views"]))] = (float(r["mean"]), float(r["std"]))
    return out


def aggregate(runs: list[argparse.Namespace], data_ids: dict | None = None) -> dict:
    """{(augment, model, views): [test accuracies in %]} from the finished runs among ``runs`` (each an
    `experiments.train` namespace with its ``out``). Each result is checked against its run's identity
    (``data_ids``: content id by ``--data``, else computed): one recorded with other settings or other
    data is refused, naming the difference, never reported."""
    data_ids = dict(data_ids or {})
    acc: dict = {}
    for r in runs:
        if r.data not in data_ids:
            data_ids[r.data] = data_id(r.data)
        result = finished(Path(r.out), identity(r, data_ids[r.data]))
        if result is not None:
            acc.setdefault((r.augment, r.model, int(r.views)), []).append(100 * result["test_acc"])
    return acc


def seeds_in(folder: Path, prefix: str) -> list[int]:
    """The seeds ``S`` of the run folders ``<folder>/<prefix>S``, in order."""
    tails = (f.name[len(prefix):] for f in folder.glob(f"{prefix}*"))
    return sorted(int(t) for t in tails if t.isdigit())


def missing(runs: list[argparse.Namespace], data_ids: dict | None = None) -> list[argparse.Namespace]:
    """The runs not finished yet; ValueError naming every run folder that holds other settings or data."""
    data_ids = dict(data_ids or {})
    todo, wrong = [], []
    for r in runs:
        if r.data not in data_ids:
            data_ids[r.data] = data_id(r.data)
        try:
            if finished(Path(r.out), identity(r, data_ids[r.data])) is None:
                todo.append(r)
        except ValueError as e:
            wrong.append(str(e))
    if wrong:
        raise ValueError(f"{len(wrong)} run folder(s) hold other runs: " + "; ".join(wrong))
    return todo


def _cell(values: list[float] | None) -> str:
    if not values:
        return ""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {std:.2f}" + (f" (n={len(values)})" if len(values) < 3 else "")


def write_tables(acc: dict, out: Path, dataset: str, views: list[int], models: list[str], note: str = "",
                 rows: list[tuple[str, str]] = ROWS, name: str = "table1", paper_dataset: str | None = None) -> str:
    """Write ``<name>.md`` and ``<name>.csv`` in the layout of the paper's Table 1 (``rows``: (label,
    augmentation) pairs), the paper's column ``paper_dataset`` (default ``dataset``) beside; returns
    the markdown."""
    paper = load_paper()
    paper_dataset = paper_dataset or dataset
    theirs_label = "paper" if paper_dataset == dataset else f"paper, {paper_dataset}"
    header = ["Augmentation", "Model"] + [f"{v} view{'s' if v > 1 else ''} (ours)" for v in views] \
        + [f"{v} view{'s' if v > 1 else ''} ({theirs_label})" for v in views]
    lines = [f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
    rows_csv = []
    for model in models:
        for label, augmentation in rows:
            ours = [acc.get((augmentation, model, v)) for v in views]
            theirs = [paper.get((label, MODEL_LABEL.get(model, model), paper_dataset, v)) for v in views]
            cells = [_cell(o) for o in ours] + [f"{p[0]:.2f} ± {p[1]:.2f}" if p else "—" for p in theirs]
            lines.append(f"| {label} | {MODEL_LABEL.get(model, model)} | " + " | ".join(cells) + " |")
            for v, o, p in zip(views, ours, theirs):
                rows_csv.append({"augmentation": label, "augment": augmentation, "model": MODEL_LABEL.get(model, model), "dataset": dataset,
                                 "views": v, "n": len(o or []),
                                 "mean": f"{statistics.mean(o):.2f}" if o else "",
                                 "std": f"{statistics.stdev(o):.2f}" if o and len(o) > 1 else ("0.00" if o else ""),
                                 "paper_mean": p[0] if p else "", "paper_std": p[1] if p else ""})
    md = (note + "\n\n" if note else "") + "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    # atomic: cells of one table may finish in two processes at once (a `--views 10` job beside another)
    atomic_write_bytes(out / f"{name}.md", md.encode())
    atomic_write_bytes(out / f"{name}.csv", csv_text(rows_csv).encode())
    return md


def csv_text(rows: list[dict], fields: list[str] | None = None) -> str:
    """``rows`` (dicts with the keys ``fields``, default the first row's) as CSV, a header line first."""
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=fields or list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def reported_views(out: Path, name: str) -> set[int]:
    """The views settings of which the table ``<out>/<name>.csv`` reports a cell (none if it is absent):
    a table rewritten without one's data would drop cells checked when it was written."""
    if not (out / f"{name}.csv").is_file():
        return set()
    with open(out / f"{name}.csv", newline="") as f:
        return {int(row["views"]) for row in csv.DictReader(f) if row["n"] not in ("", "0")}


def keep_table(out: Path, name: str, absent: dict[int, Path], hint: str) -> bool:
    """Whether the table ``<out>/<name>`` is kept as it is because it reports cells of a views
    setting whose data (``absent``: views -> its folder) is not here to check them against; if not,
    the absent views' cells are to be left out. A line says which, and how to fit the data."""
    kept = sorted(set(absent) & reported_views(out, name))
    if kept:
        print(f"{out / name}.md kept as it is: its cells of {' and '.join(map(str, kept))} view(s) cannot be checked "
              f"without {', '.join(str(absent[v]) for v in kept)} {hint}", flush=True)
        return True
    for views, folder in sorted(absent.items()):
        print(f"{views}-view cells left out: their data {folder} is not here to check them against {hint}", flush=True)
    return False


def _report(run: argparse.Namespace, r: dict) -> None:
    size = f"N={run.train_objects} " if getattr(run, "train_objects", None) else ""
    print(f"{size}{run.model} {run.augment} {run.views} view(s) seed {run.seed}: test {100 * r['test_acc']:.2f}% "
          f"({r['seconds']:.0f} s)", flush=True)


def fit_and_train(runs: list[argparse.Namespace], fit: Callable[[int], object], jobs: int = 1,
                  after: Callable[[], object] | None = None) -> None:
    """Fit what the unfinished ``runs`` read (``fit(views)`` for each of their views), then train
    them (`train_cells`); a protocol command's whole work once its cells are listed."""
    runs = [r for r in runs if not (Path(r.out) / RESULT).is_file()]
    for views in sorted({r.views for r in runs}):
        fit(views)
    train_cells(missing(runs), jobs, after)


def train_cells(runs: list[argparse.Namespace], jobs: int = 1, after: Callable[[], object] | None = None) -> None:
    """Train ``runs`` (`experiments.train` namespaces) in order, ``jobs`` at a time: in this process
    for one, else each in an ``experiments.train`` process of its own, its output in
    ``<run>/train.log``. Each is reported as it finishes, then ``after()`` runs (e.g. rewriting the
    tables). A run that fails stops the others (they resume from their checkpoints) and raises `Failed`.

    A run whose folder another process holds is left to it, with a line saying so: the same command
    started twice (on two cores, or on machines sharing the folders) splits the runs between them."""
    after = after or (lambda: None)
    if jobs == 1:
        for r in runs:
            try:
                result = train(r)
            except InUse as e:
                print(f"{e}: left to it", flush=True)
                continue
            _report(r, result)
            after()
        return
    pending, active = list(runs), {}
    try:
        while pending or active:
            while pending and len(active) < jobs:
                r = pending.pop(0)
                try:
                    lock_folder(Path(r.out)).close()  # free now: the run's own process takes it next
                except InUse as e:
                    print(f"{e}: left to it", flush=True)
                    continue
                log = open(Path(r.out) / "train.log", "w")
                active[subprocess.Popen(command(r), stdout=log, stderr=subprocess.STDOUT)] = (r, log)
            done = next((p for p in active if p.poll() is not None), None)
            if done is None:
                time.sleep(1)
                continue
            r, log = active.pop(done)
            log.close()
            if done.returncode != 0:
                raise Failed(f"run {r.out} failed (exit {done.returncode}); see {Path(r.out) / 'train.log'}")
            _report(r, json.loads((Path(r.out) / RESULT).read_text()))
            after()
    finally:
        for p, (_, log) in active.items():
            p.terminate()
            p.wait()
            log.close()


def parser() -> Parser:
    ap = Parser(description=__doc__, parents=[train_parser()], conflict_handler="resolve")
    ap.add_argument("--out", required=True, help="results directory")
    ap.add_argument("--dataset-name", default="fmnist", help="the dataset's name in the table (e.g. fmnist, modelnet10)")
    ap.add_argument("--paper-column", default=None,
                    help="the paper's column to set beside (fmnist, modelnet40; default: --dataset-name)")
    ap.add_argument("--table-name", default="table1", help="the table's file names: <out>/<name>.md and .csv")
    ap.add_argument("--views", type=positive_int, nargs="+", default=[1, 10])
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["dws", "rt"],
                    help="registered model names (--import a module to add yours)")
    ap.add_argument("--augmentations", nargs="+", default=[name for _, name in ROWS])
    ap.add_argument("--epochs", type=positive_int, nargs="+", default=None,
                    help="epochs per views entry (default: the paper's, e.g. 300 and 100 for FMNIST)")
    ap.add_argument("--aggregate-only", action="store_true")
    ap.add_argument("--list", action="store_true",
                    help="print one experiments.train command per missing run (for any scheduler) and stop")
    ap.add_argument("--jobs", type=positive_int, default=1,
                    help="runs at once on this machine, each in its own process (give each --threads)")
    ap.add_argument("--note", default="", help="text written above the table (what was run)")
    return ap


def main(argv=None):
    args = parse(parser, argv)
    out = Path(args.out)
    column = args.paper_column or args.dataset_name
    epochs = args.epochs or [PAPER_EPOCHS.get(column, {}).get(v, 100) for v in args.views]
    if len(epochs) != len(args.views):
        raise ValueError(f"--epochs: expected one value per --views entry ({len(args.views)}), got {len(epochs)}")
    runs = [argparse.Namespace(**{**vars(args), "augment": name, "model": model, "views": v, "epochs": ep,
                                  "seed": seed, "out": str(out / "runs" / f"{model}-{name}-v{v}-s{seed}"),
                                  "augment_options": {k: o for k, o in args.augment_options.items()
                                                      if k in split_names(name)}})
            for v, ep in zip(args.views, epochs) for model in args.models for name in args.augmentations
            for seed in args.seeds]
    ids = {args.data: data_id(args.data)}
    todo = missing(runs, ids)  # refuses folders of other settings before anything runs
    if args.list:
        for r in todo:
            print(shlex.join(command(r)))
        return
    if not args.aggregate_only:
        train_cells(todo, args.jobs)
    labels = dict((name, label) for label, name in ROWS)
    rows = [(labels.get(name, name), name) for name in args.augmentations]  # a combination is labelled by its name
    print(write_tables(aggregate(runs, ids), out, args.dataset_name, args.views, args.models, args.note, rows,
                       args.table_name, column))


def cli():
    """``nngraph-table1``, the same as ``python -m nngraph.experiments.table1``."""
    run_training(main)


if __name__ == "__main__":
    cli()
