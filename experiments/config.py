"""What a command reads before its own options: ``--import`` (your modules that register models and
augmentations, so that ``--model`` and ``--augment`` know their names) and ``--config`` (a YAML file
of option values, by option name; the command line overrides it). The resolved configuration is
what a run records (``config.yaml`` in its folder)."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import yaml


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--import", dest="imports", nargs="+", default=[], metavar="MODULE",
                    help="modules (names or .py files) imported first: they may register models and augmentations")
    ap.add_argument("--config", default=None, metavar="YAML",
                    help="option values by name (e.g. 'epochs: 60', 'augment_options: {mixup: {...}}'); flags override")


def import_plugins(names: list[str]) -> None:
    for name in names:
        try:
            if name.endswith(".py"):
                path = Path(name)
                if not path.is_file():
                    raise FileNotFoundError(f"no such file {path}")
                spec = importlib.util.spec_from_file_location(path.stem, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[path.stem] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(name)
        except Exception as e:  # its own error, on one line, naming it
            raise ValueError(f"--import {name}: {type(e).__name__}: {e}") from None


def parse(make_parser: Callable[[], argparse.ArgumentParser], argv=None) -> argparse.Namespace:
    """Parse ``argv`` after importing its ``--import`` modules (so the parser sees what they register)
    and with its ``--config`` file's values as defaults. A run's own ``config.yaml`` reads back as
    the run: the modules it records under ``imports`` are imported (unless ``--import`` names
    others), and its ``config`` entry, the file that run read, is not followed."""
    pre = argparse.ArgumentParser(add_help=False)
    add_arguments(pre)
    known, _ = pre.parse_known_args(argv)
    path = None if known.config is None else Path(known.config)
    values = {} if path is None else read_config(path)
    values.pop("config", None)
    imports = values.pop("imports", None) or []
    if not (isinstance(imports, list) and all(isinstance(i, str) for i in imports)):
        raise ValueError(f"--config {path}: imports: expected a list of module names or .py files, got {imports!r}")
    import_plugins(known.imports or imports)
    ap = make_parser()
    ap.set_defaults(imports=imports)
    set_defaults(ap, path, values)
    return ap.parse_args(argv)


def read_config(path: Path) -> dict:
    """The YAML file's option values, by option name (``-`` or ``_``)."""
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"--config {path}: unreadable ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise ValueError(f"--config {path}: expected a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in values.items()}


def set_defaults(ap: argparse.ArgumentParser, path: Path, values: dict) -> None:
    """``values`` (from the file ``path``) as ``ap``'s defaults, each checked by its option's type."""
    actions = {a.dest: a for a in ap._actions if a.option_strings}
    defaults = {}
    for key, value in values.items():
        if key not in actions or key == "help":  # config and imports: taken out by `parse`
            raise ValueError(f"--config {path}: unknown option {key!r}")
        action = actions[key]
        try:
            defaults[key] = _typed(action, value)
        except (argparse.ArgumentTypeError, ValueError, TypeError) as e:
            raise ValueError(f"--config {path}: {key}: {e}") from None
        action.required = False
    ap.set_defaults(**defaults)


def _typed(action: argparse.Action, value):
    """``value`` as the command line would have given it: through the option's type, as text where it
    has none (so ``devices: 1`` is the run ``--devices 1`` is)."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value  # the option's own value: a --no-X option's is false when given
    if value is None or isinstance(value, dict):  # unset, or a JSON-object option given as a YAML mapping
        return value
    items = value if isinstance(value, list) else [value]
    out = [action.type(str(v)) if action.type else str(v) for v in items]
    if action.choices is not None and any(v not in action.choices for v in out):
        raise ValueError(f"expected one of {sorted(action.choices)}, got {value!r}")
    return out if action.nargs in ("+", "*") or isinstance(action.nargs, int) else out[0]


def dump(args: argparse.Namespace) -> str:
    """The resolved configuration as YAML, by option name."""
    return yaml.safe_dump({k: v for k, v in sorted(vars(args).items())}, sort_keys=False, default_flow_style=None)
