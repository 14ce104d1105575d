"""What every command line here shares: arguments checked where they enter, and a user's mistake
reported as one line, ``error: <what was wrong>``, with exit status 2 (tracebacks stay for bugs)."""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable

# Lightning's names for the precisions a run may take: float32, or bfloat16 under autocast.
PRECISIONS = ("32-true", "bf16-mixed")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written; every option's default in its help, unless it has none (None,
    False) or the help already says it."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr and exit status 2, and whose
    ``--help`` shows every option's default."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        default = kwargs.get("default")
        if "help" not in kwargs and default not in (None, False, argparse.SUPPRESS) and args[0].startswith("-"):
            kwargs["help"] = "default: %(default)s"  # so --help shows it
        return super().add_argument(*args, **kwargs)

    def error(self, message: str):
        sys.stderr.write(f"error: {message}\n")
        sys.exit(2)


def _number(kind: type, test: Callable[[float], bool], expected: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    parse.__name__ = expected  # argparse names the type in its messages
    return parse


finite_float = _number(float, lambda v: True, "a finite number")
positive_int = _number(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
positive_float = _number(float, lambda v: v > 0, "a positive finite number")
non_negative_float = _number(float, lambda v: v >= 0, "a non-negative finite number")
_fraction = _number(float, lambda v: 0 < v <= 1, "a fraction in (0, 1] or a positive whole number of batches")


def batches(text: str) -> int | float:
    """Lightning's ``limit_*_batches``: a whole number of batches (``"20"``) or a fraction (``"0.5"``)."""
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        return _fraction(text)


def layer_sizes(text: str) -> tuple[int, ...]:
    """An MLP's layer sizes, input to output: ``"2-32-32-1"``."""
    try:
        sizes = tuple(int(n) for n in text.split("-"))
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected layer sizes such as 2-32-32-1, got {text!r}")
    return sizes


def json_object(text: str) -> dict:
    """A JSON object (``'{"key": value}'``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({e.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"key\": 1}}', got {text!r}")
    return value


class Failed(Exception):
    """A failure explained elsewhere (a child process's log, named in the message): one line, exit 1."""


def run(main: Callable[[], object]) -> None:
    """Run a command's ``main``: bad input (ValueError) and a file system's refusal (OSError: a full
    disk, a path under a file, no permission) are one line naming what, exit 2; a numerical failure
    (FloatingPointError, e.g. a non-finite training loss) or a `Failed` one line and exit 1."""
    try:
        main()
    except ValueError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(2)
    except OSError as e:
        where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
        sys.stderr.write(f"error: {where + ': ' if where else ''}{e.strerror or e}\n")
        sys.exit(2)
    except (FloatingPointError, Failed) as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(1)


def torch_device(text: str):
    """A torch device that exists here (``cpu``, ``cuda``, ``cuda:1``)."""
    import torch

    try:
        dev = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"expected a device such as cpu or cuda, got {text!r}") from None
    if dev.type == "cuda" and not (torch.cuda.is_available() and (dev.index or 0) < torch.cuda.device_count()):
        raise argparse.ArgumentTypeError(f"{text!r}: no such CUDA device here")
    if dev.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"expected cpu or cuda, got {text!r}")
    return str(dev)
