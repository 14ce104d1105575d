import os

import pytest
import torch

if not torch.cuda.is_available():  # Triton kernels (where Triton is installed) run in its interpreter
    os.environ.setdefault("TRITON_INTERPRET", "1")  # set before anything imports Triton

import nngraph  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def random_spec(gen: torch.Generator, activation: str | None = None, max_hidden: int = 6,
                max_width: int = 64, d_in: int | None = None) -> nngraph.NetworkSpec:
    """A random MLP spec: 1..max_hidden hidden layers of width 1..max_width."""
    n_hidden = int(torch.randint(1, max_hidden + 1, (1,), generator=gen))
    widths = torch.randint(1, max_width + 1, (n_hidden,), generator=gen).tolist()
    d_in = d_in or int(torch.randint(1, 4, (1,), generator=gen))
    d_out = int(torch.randint(1, 4, (1,), generator=gen))
    act = activation or ("sine", "relu")[int(torch.randint(0, 2, (1,), generator=gen))]
    return nngraph.NetworkSpec((d_in, *widths, d_out), activation=act)
