"""The floor plan: the graph core never imports the INR data pipeline, and no two core modules import
each other."""
import ast
from pathlib import Path

NNGRAPH = Path(__file__).resolve().parents[2] / "nngraph"


def relative_imports(path: Path) -> set[str]:
    """Modules a file imports relatively, as paths from the nngraph package (``views``, ``datasets.shards``)."""
    package = path.parent.relative_to(NNGRAPH).parts
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            names = [node.module] if node.module else [a.name for a in node.names]
            out |= {".".join((*base, *n.split("."))) for n in names}
    return out


def test_core_never_imports_the_data_pipeline():
    for path in NNGRAPH.glob("*.py"):
        if path.name == "__init__.py":  # the package re-exports the pipeline's public names
            continue
        assert not any(m.startswith("datasets") for m in relative_imports(path)), path.name


def test_no_two_core_modules_import_each_other():
    core = {p.stem: relative_imports(p) for p in NNGRAPH.glob("*.py") if p.name != "__init__.py"}
    for a, imports in core.items():
        for b in imports & set(core):
            assert a not in core[b], f"{a} and {b} import each other"


def test_the_training_layer_sits_on_top():
    """`nngraph.lightning` wires models, augmentations and data for Lightning: nothing below it
    imports it (a core install has no Lightning), and it imports no experiment script."""
    repo = NNGRAPH.parent
    below = list(NNGRAPH.glob("*.py")) + list((NNGRAPH / "datasets").glob("*.py")) + \
        list((repo / "models").glob("*.py")) + list((repo / "augment").glob("*.py"))
    for path in below:
        text = path.read_text()
        assert "lightning" not in {a.name.split(".")[0] for n in ast.walk(ast.parse(text))
                                   if isinstance(n, ast.Import) for a in n.names}, path
        assert "nngraph.lightning" not in text and "from .lightning" not in text and "from ..lightning" not in text, path
    for path in (NNGRAPH / "lightning").glob("*.py"):
        assert "experiments" not in {n.module.split(".")[1] for n in ast.walk(ast.parse(path.read_text()))
                                     if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("nngraph.")
                                     and "." in n.module}, path
