"""A fused GPU kernel for the image INRs' loss and gradient (Triton, optional).

For specs ``(d_in, W, W, 1)`` with sine activations (the Fashion-MNIST/MNIST recipe) on coordinates
shared by all INRs, one program per INR walks over its points in tiles and keeps every activation
in registers: forward, hand-written backward and the gradient sums never touch global memory, where
the tensor program of `nngraph.datasets.fitting.loss_and_grads` moves ``[B, points, W]`` tensors a few dozen
times per step. Matmuls run in IEEE fp32 (no TF32), so the training is the same as
`loss_and_grads` to float tolerance.

Used by `nngraph.fit_inrs` on CUDA when Triton is installed and the spec fits (`supports`).
"""
from __future__ import annotations

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # Triton is optional: CPU installs and other GPUs use the tensor program
    triton = None

_WIDTHS = (16, 32, 64)
# launch configuration: points per tile, warps per program, precision of the tile matmuls
# ("ieee": plain fp32; "tf32x3": fp32-accurate split products on the tensor cores)
CONFIG = {"tile": 64, "num_warps": 4, "precision": "ieee"}


def available() -> bool:
    return triton is not None


def supports(spec, coords: torch.Tensor) -> bool:
    """Whether the fused kernel handles this spec and these (shared) coordinates."""
    s = spec.layer_sizes
    return (len(s) == 4 and s[1] == s[2] and s[1] in _WIDTHS and s[3] == 1 and 1 <= s[0] <= 3
            and spec.activation == "sine" and coords.dim() == 2)


if triton is not None:

    @triton.jit
    def _siren2_loss_grad(params_ptr, coords_ptr, targets_ptr, grads_ptr, loss_ptr, n, P, w0, scale,
                          D_IN: tl.constexpr, W: tl.constexpr, TILE: tl.constexpr, PREC: tl.constexpr):
        """One INR per program: loss (MSE) and gradient for ``sin(w0 (W1 x + b1))`` ->
        ``sin(w0 (W2 h + b2))`` -> ``w3 . h + b3``; ``scale = 2 / n``. (Argument names end in _ptr:
        Triton's launcher keeps its own local called ``params``.)"""
        inr = tl.program_id(0).to(tl.int64)
        p = params_ptr + inr * P
        g = grads_ptr + inr * P
        t_ptr = targets_ptr + inr * n
        j = tl.arange(0, W)
        o_w2, o_w3 = W * D_IN, W * D_IN + W * W
        E = W * D_IN + W * W + W
        w1_0 = tl.load(p + j * D_IN)
        if D_IN > 1:
            w1_1 = tl.load(p + j * D_IN + 1)
        if D_IN > 2:
            w1_2 = tl.load(p + j * D_IN + 2)
        w2 = tl.load(p + o_w2 + j[:, None] * W + j[None, :])  # [out, in]
        w3 = tl.load(p + o_w3 + j)
        b1 = tl.load(p + E + j)
        b2 = tl.load(p + E + W + j)
        b3 = tl.load(p + E + 2 * W)
        acc_w2 = tl.zeros((W, W), tl.float32)
        acc_w1_0 = tl.zeros((W,), tl.float32)
        acc_w1_1 = tl.zeros((W,), tl.float32)
        acc_w1_2 = tl.zeros((W,), tl.float32)
        acc_b1 = tl.zeros((W,), tl.float32)
        acc_b2 = tl.zeros((W,), tl.float32)
        acc_w3 = tl.zeros((W,), tl.float32)
        acc_b3 = tl.zeros((TILE,), tl.float32)
        acc_loss = tl.zeros((TILE,), tl.float32)
        for start in range(0, n, TILE):
            rows = start + tl.arange(0, TILE)
            mask = rows < n
            x0 = tl.load(coords_ptr + rows * D_IN, mask=mask, other=0.0)
            z1 = x0[:, None] * w1_0[None, :] + b1[None, :]
            if D_IN > 1:
                x1 = tl.load(coords_ptr + rows * D_IN + 1, mask=mask, other=0.0)
                z1 += x1[:, None] * w1_1[None, :]
            if D_IN > 2:
                x2 = tl.load(coords_ptr + rows * D_IN + 2, mask=mask, other=0.0)
                z1 += x2[:, None] * w1_2[None, :]
            a1 = w0 * z1
            h1, c1 = tl.sin(a1), tl.cos(a1)
            a2 = w0 * (tl.dot(h1, tl.trans(w2), input_precision=PREC) + b2[None, :])
            h2, c2 = tl.sin(a2), tl.cos(a2)
            y = tl.sum(h2 * w3[None, :], axis=1) + b3
            t = tl.load(t_ptr + rows, mask=mask, other=0.0)
            r = tl.where(mask, y - t, 0.0)
            acc_loss += r * r
            gy = r * scale  # d loss / d y
            acc_w3 += tl.sum(gy[:, None] * h2, axis=0)
            acc_b3 += gy
            d2 = gy[:, None] * w3[None, :] * c2  # d loss / d a2
            acc_w2 += tl.dot(tl.trans(d2), h1, input_precision=PREC)
            acc_b2 += tl.sum(d2, axis=0)
            d1 = tl.dot(d2, w2, input_precision=PREC) * c1  # d loss / d a1, over w0
            acc_b1 += tl.sum(d1, axis=0)
            acc_w1_0 += tl.sum(d1 * x0[:, None], axis=0)
            if D_IN > 1:
                acc_w1_1 += tl.sum(d1 * x1[:, None], axis=0)
            if D_IN > 2:
                acc_w1_2 += tl.sum(d1 * x2[:, None], axis=0)
        ww = w0 * w0
        tl.store(g + j * D_IN, acc_w1_0 * ww)
        if D_IN > 1:
            tl.store(g + j * D_IN + 1, acc_w1_1 * ww)
        if D_IN > 2:
            tl.store(g + j * D_IN + 2, acc_w1_2 * ww)
        tl.store(g + o_w2 + j[:, None] * W + j[None, :], acc_w2 * w0)
        tl.store(g + o_w3 + j, acc_w3)
        tl.store(g + E + j, acc_b1 * ww)
        tl.store(g + E + W + j, acc_b2 * w0)
        tl.store(g + E + 2 * W, tl.sum(acc_b3, axis=0))
        tl.store(loss_ptr + inr, tl.sum(acc_loss, axis=0) / n)


def loss_and_grads(spec, params: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor, grid=None):
    """Same contract as `nngraph.datasets.fitting.loss_and_grads` (``grid`` is not needed here)."""
    if triton is None:
        raise ValueError("the Triton kernel needs the triton package")
    if not supports(spec, coords):
        raise ValueError(f"the Triton kernel handles sine specs (d_in<=3, W, W, 1) with W in {_WIDTHS} on "
                         f"shared coordinates, got {spec} with coords {tuple(coords.shape)}")
    B, n = targets.shape[:2]
    params, coords = params.contiguous(), coords.contiguous()
    targets = (targets.reshape(B, n) - spec.output_offset).contiguous()  # the kernel fits the linear output
    grads = torch.empty_like(params)
    loss = torch.empty(B, device=params.device, dtype=params.dtype)
    if B:
        _siren2_loss_grad[(B,)](params, coords, targets, grads, loss, n, params.shape[1], float(spec.w0),
                                2.0 / n, D_IN=spec.layer_sizes[0], W=spec.layer_sizes[1], TILE=CONFIG["tile"],
                                PREC=CONFIG["precision"], num_warps=CONFIG["num_warps"])
    return loss, grads
