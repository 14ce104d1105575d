"""What a command reads before its own options: ``--import`` (your modules that register models and
augmentations, so that ``--model`` and ``--augment`` know their names) and ``--config`` (a YAML file
of option values, by option name; the command line overrides it). The resolved configuration is
what a run records (``config.yaml`` in its folder).

A config file never runs code on its own: the modules a run's ``config.yaml`` lists under
``imports`` are imported only with ``--trust-config-imports`` on the command line (each named on
stderr first), their relative paths read against the config's folder. Nothing is imported for
``--help``. What was imported is part of a run's identity (`plugin_identity`)."""
from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from .cli import json_object


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--import", dest="imports", nargs="+", default=[], metavar="MODULE",
                    help="modules (names or .py files) imported first: they may register models and augmentations")
    ap.add_argument("--config", default=None, metavar="YAML",
                    help="option values by name (e.g. 'epochs: 60', 'augment_options: {mixup: {...}}'); flags override")
    ap.add_argument("--trust-config-imports", action="store_true",
                    help="import the modules the --config file lists under 'imports' (a run's config.yaml "
                         "records its --import modules; without this flag a config that lists any is refused)")


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
        except SystemExit as e:  # a plugin that exits would end the command without a word
            raise ValueError(f"--import {name}: the module called sys.exit({e.code!r}) while being imported") from None
        except Exception as e:  # its own error, on one line, naming it
            raise ValueError(f"--import {name}: {type(e).__name__}: {e}") from None


def resolve_imports(names: list[str], base: Path | None = None) -> list[str]:
    """``.py`` files as absolute paths (relative ones read against ``base``, default the working
    folder), so that a recorded import names the same file from anywhere; module names as given."""
    return [str(((base or Path.cwd()) / n).resolve()) if n.endswith(".py") else n for n in names]


def _source_digest(name: str) -> str:
    """The sha256 of an imported plugin's source file (a module name: its module's file)."""
    if name.endswith(".py"):
        path = Path(name)
    else:
        module = sys.modules.get(name)
        path = Path(getattr(module, "__file__", None) or "")
    if not path.is_file():
        raise ValueError(f"--import {name}: no source file to identify it by")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def plugin_identity(imports: list[str]) -> dict | None:
    """What a run's ``--import`` modules add to its identity: each one's source digest, and the
    built-in models and augmentations they replaced (None without imports: earlier runs' identity)."""
    if not imports:
        return None
    from nngraph import augment
    from nngraph.models import registry as models
    replaced = [f"augment:{n}" for n, f in augment.registry.BUILTIN.items() if augment.AUGMENTATIONS.get(n) is not f]
    replaced += [f"model:{n}" for n, f in models.BUILTIN.items() if models.MODELS.get(n) is not f]
    return {"sources": {n: _source_digest(n) for n in imports}, "replaced": replaced}


def parse(make_parser: Callable[[], argparse.ArgumentParser], argv=None) -> argparse.Namespace:
    """Parse ``argv`` after importing its ``--import`` modules (so the parser sees what they register)
    and with its ``--config`` file's values as defaults. A run's own ``config.yaml`` reads back as
    the run: its ``config`` entry, the file that run read, is not followed, and the modules it records
    under ``imports`` are imported only with ``--trust-config-imports`` (``--import`` replaces them)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if {"-h", "--help"} & set(argv):  # the options and their defaults: no config read, nothing imported
        return make_parser().parse_args(["--help"])
    pre = argparse.ArgumentParser(add_help=False)
    add_arguments(pre)
    known, _ = pre.parse_known_args(argv)
    path = None if known.config is None else Path(known.config)
    values = {} if path is None else read_config(path)
    values.pop("config", None)
    values.pop("trust_config_imports", None)
    imports = values.pop("imports", None) or []
    if not (isinstance(imports, list) and all(isinstance(i, str) for i in imports)):
        raise ValueError(f"--config {path}: imports: expected a list of module names or .py files, got {imports!r}")
    if known.imports:
        imports = resolve_imports(known.imports)
    elif imports:
        if not known.trust_config_imports:
            raise ValueError(f"--config {path}: it lists modules to import ({', '.join(imports)}); a config file "
                             "runs no code on its own: pass --trust-config-imports to import them, or --import")
        imports = resolve_imports(imports, path.parent)
        for name in imports:
            sys.stderr.write(f"importing {name} (listed in {path})\n")
    import_plugins(imports)
    ap = make_parser()
    ap.set_defaults(imports=imports)
    set_defaults(ap, path, values)
    return ap.parse_args(argv)


def read_config(path: Path) -> dict:
    """The YAML file's option values, by option name (``-`` or ``_``)."""
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
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
    has none (so ``devices: 1`` is the run ``--devices 1`` is). A null only where the option's
    default is (unset), a list only for an option of several values, a mapping only for a JSON-object
    option: a value of another shape would be read as something else, or break later."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value  # the option's own value: a --no-X option's is false when given
    many = action.nargs in ("+", "*") or isinstance(action.nargs, int)
    if value is None:
        if action.default is not None:
            raise ValueError(f"expected a value (its default is {action.default!r}), got null")
        return None
    if isinstance(value, dict):
        if action.type is not json_object:
            raise ValueError(f"expected {_expected(action)}, got a mapping {value!r}")
        return value
    if isinstance(value, list) and not many:
        raise ValueError(f"expected {_expected(action)}, got a list {value!r}")
    items = value if isinstance(value, list) else [value]
    if any(isinstance(v, (list, dict)) or v is None for v in items):
        raise ValueError(f"expected a list of plain values, got {value!r}")
    if isinstance(action.nargs, int) and len(items) != action.nargs:
        raise ValueError(f"expected {action.nargs} values, got {value!r}")
    if many and action.nargs == "+" and not items:
        raise ValueError(f"expected at least one value, got {value!r}")
    out = [action.type(str(v)) if action.type else str(v) for v in items]
    if action.choices is not None and any(v not in action.choices for v in out):
        raise ValueError(f"expected one of {sorted(action.choices)}, got {value!r}")
    return out if many else out[0]


def _expected(action: argparse.Action) -> str:
    if action.type is json_object:
        return "a JSON object"
    return getattr(action.type, "__name__", None) or "a single value"


def dump(args: argparse.Namespace) -> str:
    """The resolved configuration as YAML, by option name."""
    return yaml.safe_dump({k: v for k, v in sorted(vars(args).items())}, sort_keys=False, default_flow_style=None)
