"""Fitting many INRs at once: one tensor program over a stack of ``B`` networks.

The MLP's forward and backward are written out by hand over ``[B, points, width]`` tensors (batched
matmuls, no autograd graph; on a CPU in cache-sized chunks of the batch; on CUDA, for image specs, a
fused Triton kernel, `nngraph.datasets.fitting_triton`), Adam/AdamW runs on the stacked flat parameters
``[B, P]``, and INRs that stop early leave the active batch, their places taken by pending ones.
The result is the same training as autograd + ``torch.optim.Adam`` on each INR (the tests check
the trajectory).

Conventions:

- Each INR ``i`` starts from ``nngraph.init_params`` (the named ``init``) drawn with its own
  generator seeded by ``seeds[i]`` (on the CPU, then moved), so an INR does not depend on batching
  or device.
- The loss of an INR is the mean squared error over its points and outputs. Image targets are grey
  levels in ``[0, 1]`` and ``PSNR = 10 log10(1 / MSE)``, on that ``[0, 1]`` scale.
- An INR stops when its PSNR exceeds ``psnr_stop`` (before another update) or after ``steps``
  updates; its reported loss and PSNR are those of the returned parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..siren import INITS, init_params
from ..spec import NetworkSpec
from ..views import split_layers

# Activations of about this many floats per chunk stay in a CPU's cache (and chunks are few enough
# that thread start-up per op stays small); on a GPU the whole batch runs at once.
_CPU_CHUNK_FLOATS = 2 ** 20
_ADAM_BETAS, _ADAM_EPS = (0.9, 0.999), 1e-8


@dataclass
class FitResult:
    """Fitted INRs: ``params [B, P]`` float32 in the library's flat order (see `nngraph.to_graph`),
    final ``loss [B]`` and ``psnr [B]`` (of those parameters) and ``steps [B]`` (updates applied)."""
    params: torch.Tensor
    psnr: torch.Tensor
    loss: torch.Tensor
    steps: torch.Tensor


def psnr_of(mse: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of a mean squared error on the ``[0, 1]`` scale."""
    return -10.0 * torch.log10(mse.clamp_min(1e-20))


def init_flat(spec: NetworkSpec, seeds: Sequence[int] | torch.Tensor, init: str = "siren") -> torch.Tensor:
    """``[len(seeds), P]`` initialisations (`nngraph.init_params`'s ``init``), INR ``i`` drawn by a CPU
    generator seeded ``seeds[i]``."""
    rows = []
    gen = torch.Generator()
    for s in torch.as_tensor(seeds).tolist():  # one generator per INR: its init ignores batching
        w, b = init_params(spec, 1, generator=gen.manual_seed(int(s)), init=init)
        rows.append(torch.cat([t.reshape(-1) for t in w + b]))
    return torch.stack(rows) if rows else torch.empty(0, spec.num_params)


def split_flat(spec: NetworkSpec, flat: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Views of flat parameters ``[B, P]`` as weights ``[B, out, in]`` and biases ``[B, out]``."""
    return split_layers(spec, flat[:, :spec.num_edges], flat[:, spec.num_edges:])


def grid_axes(coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The axes ``(rows [H], cols [W])`` if ``coords [H*W, 2]`` is their grid in row-major order
    (as `nngraph.coordinate_grid`), else None."""
    if coords.dim() != 2 or coords.shape[1] != 2:
        return None
    rows, cols = coords[:, 0].unique(), coords[:, 1].unique()
    if len(rows) * len(cols) != len(coords):
        return None
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).reshape(-1, 2)
    return (rows, cols) if torch.equal(grid, coords) else None


def _sine_on_grid(weight: torch.Tensor, bias: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor):
    """``sin`` and ``cos`` of ``a = W (r, c) + b`` on a grid by the angle-addition formulas: ``a`` is
    ``alpha(r) + beta(c)``, so only ``H + W`` (not ``H * W``) arguments need the costly sin and cos."""
    B, o = bias.shape
    alpha = torch.addcmul(bias.unsqueeze(1), rows.view(1, -1, 1), weight[:, :, 0].unsqueeze(1))  # [B, H, o]
    beta = cols.view(1, -1, 1) * weight[:, :, 1].unsqueeze(1)  # [B, W, o]
    sa, ca = torch.sin(alpha).unsqueeze(2), torch.cos(alpha).unsqueeze(2)
    sb, cb = torch.sin(beta).unsqueeze(1), torch.cos(beta).unsqueeze(1)
    sin = torch.mul(sa, cb).addcmul_(ca, sb).reshape(B, -1, o)
    cos = torch.mul(ca, cb).addcmul_(sa, sb, value=-1.0).reshape(B, -1, o)
    return sin, cos


def loss_and_grads(spec: NetworkSpec, params: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor,
                   grid: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-INR MSE ``[B]`` and its gradient ``[B, P]`` (flat order), by a hand-written backward.

    ``params [B, P]``, ``coords [n, d_in]`` (shared) or ``[B, n, d_in]``, ``targets [B, n, d_out]``;
    ``grid``: `grid_axes` of shared 2D ``coords``, for a cheaper first sine layer.
    The output includes the spec's ``output_offset``.
    Sine layers compute ``sin(w0 (W h + b))``; ``w0`` is folded into the small weight tensors, and the
    chain rule's powers of ``w0`` are carried as one scalar, so the big tensors see no extra pass.
    """
    B, n = params.shape[0], targets.shape[1]
    weights, biases = split_flat(spec, params)
    sine, L, w0 = spec.activation == "sine", spec.num_layers, spec.w0
    h = coords.expand(B, *coords.shape[-2:]) if coords.dim() == 2 else coords
    inputs, derivs = [h], []  # layer inputs and activation derivatives (cos or relu mask)
    for l in range(L):
        last = l == L - 1
        s = 1.0 if last or not sine else w0
        if l == 0 and sine and not last and grid is not None:
            h, cos = _sine_on_grid(weights[0] * s, biases[0] * s, *grid)
            derivs.append(cos)
            inputs.append(h)
            continue
        z = torch.baddbmm(biases[l].unsqueeze(1) * s, h, (weights[l] * s).transpose(1, 2))
        if last:
            h = z
        elif sine:
            h = torch.sin(z)
            derivs.append(z.cos_())
        else:
            derivs.append(z > 0)
            h = z.clamp_min_(0)
        inputs.append(h)
    residual = (h.add_(spec.output_offset) if spec.output_offset else h).sub_(targets)
    loss = residual.square().mean(dim=(1, 2))
    g = residual.mul_(2.0 / (n * spec.layer_sizes[-1]))  # d loss / d output
    gw, gb = [None] * L, [None] * L
    scale = 1.0  # layer l's true gradients are scale times those computed from g
    for l in range(L - 1, -1, -1):
        if l == 0 and inputs[0].shape[-1] < g.shape[-1]:  # skinny input: contract over points on the narrow side
            gw[l] = torch.bmm(inputs[0].transpose(1, 2), g).transpose(1, 2).mul_(scale)
        else:
            gw[l] = torch.bmm(g.transpose(1, 2), inputs[l]).mul_(scale)
        gb[l] = g.sum(dim=1).mul_(scale)
        if l > 0:  # one output (an image's grey level, an SDF): an outer product, not a matmul
            g = (g * weights[l] if weights[l].shape[1] == 1 else torch.bmm(g, weights[l])).mul_(derivs[l - 1])
            if sine:
                scale *= w0
    grads = torch.cat([t.reshape(B, -1) for t in gw + gb], dim=1)
    return loss, grads


def _chunked(fn, spec, params, coords, targets, chunk: int, grid=None):
    """`fn` over slices of the batch, so that a chunk's activations stay in cache."""
    if params.shape[0] <= chunk:
        return fn(spec, params, coords, targets, grid)
    out = [fn(spec, params[s:s + chunk], coords if coords.dim() == 2 else coords[s:s + chunk],
              targets[s:s + chunk], grid) for s in range(0, params.shape[0], chunk)]
    return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])


def adam_update(params: torch.Tensor, grads: torch.Tensor, m: torch.Tensor, v: torch.Tensor,
                step: torch.Tensor, lr: float, weight_decay: float = 0.0) -> None:
    """One in-place Adam (``weight_decay = 0``) or AdamW step on stacked rows ``[B, P]``, each row with
    its own step count ``step [B]`` (after increment), exactly as ``torch.optim.Adam``/``AdamW``."""
    (b1, b2), eps = _ADAM_BETAS, _ADAM_EPS
    t = step.to(torch.float64).unsqueeze(1)
    step_size = (lr / (1 - b1 ** t)).to(params.dtype)
    bc2_sqrt = (1 - b2 ** t).sqrt().to(params.dtype)
    if weight_decay:
        params.mul_(1 - lr * weight_decay)
    m.lerp_(grads, 1 - b1)
    v.mul_(b2).addcmul_(grads, grads, value=1 - b2)
    denom = v.sqrt().div_(bc2_sqrt).add_(eps)
    params.sub_(m.div(denom).mul_(step_size))


def fit_inrs(coords: torch.Tensor, targets: torch.Tensor, spec: NetworkSpec, *, steps: int = 1000,
             lr: float = 5e-4, optimizer: str = "adam", weight_decay: float = 1e-2,
             psnr_stop: float | None = 40.0, seeds: Sequence[int] | torch.Tensor | None = None, init: str | None = None,
             points_per_step: int | None = None, target_index: torch.Tensor | None = None, device=None,
             batch_size: int | None = None, backend: str = "auto", compile: bool = False,
             progress: bool = True, initial: torch.Tensor | None = None) -> FitResult:
    """Fit one INR of ``spec`` to each of ``B`` signals, many at once.

    Args:
        coords: ``[n, d_in]`` shared by all signals (an image grid) or ``[S, n, d_in]`` (shape samples).
        targets: ``[S, n, d_out]`` (or ``[S, n]`` when ``d_out = 1``); images in ``[0, 1]``.
        target_index: ``[B]`` signal each INR fits (default: INR ``i`` fits signal ``i``, ``B = S``);
            views of one object share its signal this way.
        steps: at most this many optimiser updates per INR (paper: 1000).
        lr, optimizer, weight_decay: ``"adam"`` (images, lr 5e-4) or ``"adamw"`` (shapes, lr 1e-4,
            decoupled ``weight_decay``, torch's default 1e-2).
        psnr_stop: stop an INR once its PSNR exceeds this (dB, ``[0, 1]`` scale); None never stops.
        seeds: one integer per INR (default ``0..B-1``) seeding its initialisation.
        init: the initialisation, one of `nngraph.siren.INITS` (see `nngraph.init_params`); by default
            the one the spec's output offset names: ``"reference"`` (the library's recipe, and what
            `build_inr_dataset` and ``nngraph-fit`` use) for a spec that adds 0.5, as the reference INR
            does, else SIREN's own ``"siren"``.
        points_per_step: if set, each update uses a window of this many of the ``n`` points, the
            ``k``-th update of an INR the points ``k*m .. k*m+m-1`` (mod ``n``); shuffle samples first.
        device: where to fit (default: the device of ``targets``); results come back on the CPU.
        batch_size: INRs trained at once (default 256 on the CPU, 16384 on CUDA); as INRs stop, pending
            ones take their places.
        backend: ``"torch"`` (the tensor program), ``"triton"`` (a fused GPU kernel for image specs
            ``(d_in, W, W, 1)``, see `nngraph.datasets.fitting_triton`) or ``"auto"``: Triton on CUDA where it
            is installed and the spec fits, else torch.
        compile: ``torch.compile`` the tensor program (backend torch; useful on CUDA).
        progress: show a tqdm bar.
        initial: ``[B, P]`` parameters to start from instead of a fresh initialisation (fitting
            further: ``steps`` more updates, with fresh Adam moments).
    """
    if spec.activation not in ("sine", "relu"):  # the hand-written backward's two derivatives
        raise ValueError(f"spec: fitting covers sine and relu networks, got {spec.activation}")
    targets = targets.unsqueeze(-1) if targets.dim() == 2 else targets
    S, n = targets.shape[:2]
    d_in, d_out = spec.layer_sizes[0], spec.layer_sizes[-1]
    if targets.dim() != 3 or targets.shape[2] != d_out:
        raise ValueError(f"targets: expected [S, n, {d_out}] for {spec}, got {tuple(targets.shape)}")
    if coords.shape[-1] != d_in or coords.dim() not in (2, 3) or coords.shape[-2] != n \
            or coords.dim() == 3 and coords.shape[0] != S:
        raise ValueError(f"coords: expected [{n}, {d_in}] or [{S}, {n}, {d_in}], got {tuple(coords.shape)}")
    target_index = torch.arange(S) if target_index is None else torch.as_tensor(target_index).long().reshape(-1)
    if len(target_index) and (target_index.min() < 0 or target_index.max() >= S):
        raise ValueError(f"target_index: expected indices in 0..{S - 1}")
    B = len(target_index)
    if init is None:
        init = "reference" if spec.output_offset == 0.5 else "siren"
    if init not in INITS:
        raise ValueError(f"init: expected one of {INITS}, got {init!r}")
    if optimizer not in ("adam", "adamw"):
        raise ValueError(f"optimizer: expected 'adam' or 'adamw', got {optimizer!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps: expected a non-negative integer, got {steps!r}")
    if initial is not None and tuple(initial.shape) != (B, spec.num_params):
        raise ValueError(f"initial: expected [{B}, {spec.num_params}] parameters, got {tuple(initial.shape)}")
    seeds = torch.arange(B) if seeds is None else torch.as_tensor(seeds, dtype=torch.long).reshape(-1)
    if len(seeds) != B:
        raise ValueError(f"seeds: expected one per INR ({B}), got {len(seeds)}")
    m_pts = n if points_per_step is None else int(points_per_step)
    if not 1 <= m_pts <= n:
        raise ValueError(f"points_per_step: expected 1..{n}, got {points_per_step}")
    device = torch.device(device) if device is not None else targets.device
    cuda = device.type == "cuda"
    batch_size = (16384 if cuda else 256) if batch_size is None else batch_size
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    grad_fn, fused = _grad_fn(spec, coords, backend, cuda, m_pts == n, compile)
    width = max(spec.layer_sizes)
    chunk = batch_size if cuda or fused else max(1, _CPU_CHUNK_FLOATS // (m_pts * width))
    wd = weight_decay if optimizer == "adamw" else 0.0

    coords = coords.to(device, torch.float32)
    targets = targets.to(device, torch.float32)
    target_index = target_index.to(device)
    grid = grid_axes(coords)
    out_params = torch.empty(B, spec.num_params)
    out_loss, out_steps = torch.empty(B), torch.zeros(B, dtype=torch.long)
    P = spec.num_params
    # the active batch: which INRs, their parameters, Adam moments and update counts
    ids = torch.empty(0, dtype=torch.long, device=device)
    params = torch.empty(0, P, device=device)
    m, v = torch.empty(0, P, device=device), torch.empty(0, P, device=device)
    count = torch.empty(0, dtype=torch.long, device=device)
    next_id = 0
    bar = _progress_bar(B, progress)
    window = torch.arange(m_pts, device=device)
    while True:
        if len(ids) < batch_size and next_id < B:  # refill from the pending INRs
            new = torch.arange(next_id, min(B, next_id + batch_size - len(ids)))
            next_id += len(new)
            ids = torch.cat([ids, new.to(device)])
            start = init_flat(spec, seeds[new], init) if initial is None else initial[new].float()
            params = torch.cat([params, start.to(device)])
            zeros = torch.zeros(len(new), P, device=device)
            m, v = torch.cat([m, zeros]), torch.cat([v, zeros])
            count = torch.cat([count, torch.zeros(len(new), dtype=torch.long, device=device)])
        if len(ids) == 0:
            break
        sig = target_index[ids]
        if m_pts == n:
            x = coords if coords.dim() == 2 else coords[sig]
            y = targets[sig]
        else:  # this update's window of points, per INR
            idx = (count.unsqueeze(1) * m_pts + window) % n
            y = targets[sig.unsqueeze(1), idx]
            x = coords[idx] if coords.dim() == 2 else coords[sig.unsqueeze(1), idx]
        loss, grads = _chunked(grad_fn, spec, params, x, y, chunk, grid if m_pts == n else None)
        done = count >= steps
        if psnr_stop is not None:
            done |= psnr_of(loss) > psnr_stop
        if bool(done.any()):
            fin = ids[done].cpu()
            out_params[fin], out_loss[fin], out_steps[fin] = params[done].cpu(), loss[done].cpu(), count[done].cpu()
            keep = ~done
            ids, params, m, v, count, grads = ids[keep], params[keep], m[keep], v[keep], count[keep], grads[keep]
            if bar is not None:
                bar.update(len(fin))
                bar.set_postfix(psnr=f"{psnr_of(out_loss[fin]).mean():.1f}", active=len(ids), refresh=False)
        count += 1
        adam_update(params, grads, m, v, count, lr, wd)
    if bar is not None:
        bar.close()
    return FitResult(out_params, psnr_of(out_loss), out_loss, out_steps)


def _grad_fn(spec, coords, backend: str, cuda: bool, all_points: bool, compile: bool):
    """The loss-and-gradient function to use, and whether it is the fused kernel."""
    if backend not in ("auto", "torch", "triton"):
        raise ValueError(f"backend: expected 'auto', 'torch' or 'triton', got {backend!r}")
    if backend == "triton" or backend == "auto" and cuda:
        from . import fitting_triton
        fits = fitting_triton.available() and fitting_triton.supports(spec, coords) and all_points
        if backend == "triton" and not fits:
            raise ValueError(f"backend: the Triton kernel needs the triton package, a sine spec (d_in<=3, W, W, 1) "
                             f"and shared coordinates without points_per_step; got {spec}, coords "
                             f"{tuple(coords.shape)}")
        if fits:
            return fitting_triton.loss_and_grads, True
    return (torch.compile(loss_and_grads, dynamic=True) if compile else loss_and_grads), False


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="fitting INRs", unit="INR", dynamic_ncols=True)
