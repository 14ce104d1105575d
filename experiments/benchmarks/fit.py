"""Throughput of batched INR fitting: INR-steps per second (one INR, one update over all its points)
of `nngraph.fit_inrs` against a plain batched PyTorch program (autograd + ``torch.optim.Adam`` over
``[B, ...]`` parameter tensors), measured in the same run on the same device. Columns: the baseline,
the library's tensor program (backend "torch") and, on CUDA with Triton, its fused kernel.

    python -m experiments.benchmarks.fit --device cpu
    python -m experiments.benchmarks.fit --device cuda [--compile] [--sweep]

Image spec 2-32-32-1 on a 28x28 grid (Adam, lr 5e-4), and briefly the shape spec 3-32x5-1 (AdamW,
lr 1e-4, 4096 SDF samples per update). Rates are steady-state: a run of N steps minus a run of none,
so that start-up (initialisation, compilation) does not count; best of --repeats.
"""
from __future__ import annotations

import time

import torch

import nngraph
from nngraph.datasets import fitting_triton
from nngraph.datasets.fitting import init_flat, loss_and_grads, split_flat

from ..cli import Parser, positive_int, run


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def baseline_fit(spec, coords, targets, steps, lr, optimizer, compile=False):
    """Plain batched PyTorch: leaf tensors ``[B, out, in]`` / ``[B, out]``, autograd, torch.optim."""
    B = targets.shape[0]
    weights, biases = split_flat(spec, init_flat(spec, range(B)).to(targets.device))
    params = [t.clone().requires_grad_() for t in weights + biases]
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.AdamW)(params, lr=lr)
    L = spec.num_layers

    def loss_fn(ps, x, y):
        out = nngraph.forward_batched(spec, ps[:L], ps[L:], x)
        return (out - y).square().mean(dim=(1, 2)).sum()

    loss_fn = torch.compile(loss_fn) if compile else loss_fn
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss_fn(params, coords, targets).backward()
        opt.step()
    return torch.cat([p.detach().reshape(B, -1) for p in params], dim=1)


def rate(fn, B, steps, device, repeats):
    """Steady-state INR-steps/s: ``B * steps / (t(steps) - t(0))`` with each time the best of ``repeats``,
    so that start-up (initialisation, the final evaluation) does not count."""
    fn(2)  # warm-up (and compilation)
    best = {0: float("inf"), steps: float("inf")}
    for _ in range(repeats):
        for s in best:
            _sync(device)
            t0 = time.perf_counter()
            fn(s)
            _sync(device)
            best[s] = min(best[s], time.perf_counter() - t0)
    return B * steps / max(best[steps] - best[0], 1e-9)


def bench(name, spec, coords, targets, lr, optimizer, points_per_step, args, device):
    B = targets.shape[0]

    def ours(backend):
        return lambda s: nngraph.fit_inrs(coords, targets, spec, steps=s, lr=lr, optimizer=optimizer, psnr_stop=None,
                                          points_per_step=points_per_step, device=device, batch_size=B,
                                          backend=backend, compile=args.compile, progress=False)

    if points_per_step is None:
        base_targets, base_coords = targets, coords
    else:  # the baseline sees one fixed window: same work per step, no gathering
        base_targets, base_coords = targets[:, :points_per_step], coords[:, :points_per_step]
    base = lambda s: baseline_fit(spec, base_coords, base_targets, s, lr, optimizer, args.compile)
    r_base = rate(base, B, args.steps, device, args.repeats)
    r_torch = rate(ours("torch"), B, args.steps, device, args.repeats)
    r_fused = None
    if device.type == "cuda" and points_per_step is None and fitting_triton.available() \
            and fitting_triton.supports(spec, coords):
        r_fused = rate(ours("triton"), B, args.steps, device, args.repeats)
    best = max(r_torch, r_fused or 0.0)
    fused = f"{r_fused:>14.4g}" if r_fused else f"{'-':>14}"
    print(f"{name:<22} {B:>6} {r_base:>14.4g} {r_torch:>14.4g} {fused} {best / r_base:>7.2f}x", flush=True)
    return r_base, r_torch, r_fused


def check_same_training(spec, coords, targets, device, steps=5):
    """Max |difference| of the parameters after a few steps: library vs baseline (float tolerance)."""
    a = nngraph.fit_inrs(coords, targets, spec, steps=steps, psnr_stop=None, device=device, progress=False).params
    b = baseline_fit(spec, coords, targets, steps, 5e-4, "adam").cpu()
    return (a - b).abs().max().item()


def sweep_triton(spec, coords, targets):
    """Time the fused kernel alone for each launch configuration; keep the fastest accurate one."""
    import itertools

    B = targets.shape[0]
    params = init_flat(spec, range(B)).to(targets.device)
    _, ref = loss_and_grads(spec, params[:64].double(), coords.double(), targets[:64].double())
    found = []
    for tile, warps, precision in itertools.product((32, 64, 128), (2, 4, 8), ("ieee", "tf32x3")):
        fitting_triton.CONFIG.update(tile=tile, num_warps=warps, precision=precision)
        try:
            _, grads = fitting_triton.loss_and_grads(spec, params, coords, targets)
            err = ((grads[:64].double() - ref).abs().max() / ref.abs().max()).item()
            _sync(targets.device)
            t0 = time.perf_counter()
            for _ in range(5):
                fitting_triton.loss_and_grads(spec, params, coords, targets)
            _sync(targets.device)
            per_s = 5 * B / (time.perf_counter() - t0)
        except Exception as e:  # a configuration the compiler or the chip cannot take
            print(f"  tile {tile:>3} warps {warps} {precision:<6}: failed ({type(e).__name__})")
            continue
        print(f"  tile {tile:>3} warps {warps} {precision:<6}: {per_s:.4g} INR-steps/s (kernel alone), rel. error {err:.1e}")
        if err < 1e-5:
            found.append((per_s, dict(fitting_triton.CONFIG)))
    best = max(found, key=lambda f: f[0])[1]
    fitting_triton.CONFIG.update(best)
    print(f"fused kernel configuration: {best}")


def main(argv=None):
    p = Parser(description="INR fitting throughput: library vs plain autograd + Adam")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-size", type=positive_int, default=None, help="INRs at once (default 256 CPU, 16384 CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile both programs")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--steps", type=positive_int, default=None, help="timed steps per run (default 10 CPU, 50 CUDA)")
    p.add_argument("--repeats", type=positive_int, default=3)
    p.add_argument("--no-shape", action="store_true", help="skip the shape spec")
    p.add_argument("--sweep", action="store_true", help="CUDA: first try the fused kernel's launch configurations")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    args.steps = args.steps or (50 if cuda else 10)
    B = args.batch_size or (16384 if cuda else 256)
    gen = torch.Generator().manual_seed(0)
    name = torch.cuda.get_device_name(device) if cuda else f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; compile={args.compile}")

    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    coords = nngraph.coordinate_grid(28, 28).to(device)
    targets = torch.rand(B, 784, 1, generator=gen).to(device)
    diff = check_same_training(spec, coords, targets[:8], device)
    print(f"same training: max |param difference| after 5 steps = {diff:.2e}")
    if args.sweep and cuda and fitting_triton.available():
        sweep_triton(spec, coords, targets)
    print(f"{'spec':<22} {'batch':>6} {'baseline /s':>14} {'torch /s':>14} {'triton /s':>14} {'speedup':>8}")
    bench("image 2-32-32-1", spec, coords, targets, 5e-4, "adam", None, args, device)
    if not args.no_shape:
        spec3 = nngraph.NetworkSpec((3, 32, 32, 32, 32, 32, 1))
        B3, n3, m3 = (max(1, B // 8), 16384, 4096)
        coords3 = (torch.rand(B3, n3, 3, generator=gen) * 2 - 1).to(device)
        targets3 = (coords3.norm(dim=-1, keepdim=True) - 0.5)
        bench("shape 3-32x5-1 (4096)", spec3, coords3, targets3, 1e-4, "adamw", m3, args, device)


if __name__ == "__main__":
    run(main)
