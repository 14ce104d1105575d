"""Signed distance samples of a 3D shape (already in the unit sphere), the regression targets of
shape INRs: query points near the surface and their signed distance, negative inside.

Query points (`sample_queries`): 40% surface samples plus N(0, 0.01^2) noise, 40% plus N(0, 0.05^2)
noise, 20% uniform in the cube ``[-1, 1]^3``, shuffled (so any window of them is a random minibatch).

Meshes (`mesh_sdf`): the distance is exact (closest point on any triangle); the sign comes from the
generalised winding number (Jacobson et al., 2013), inside where it exceeds 1/2, which stays sensible on
meshes with holes, gaps and self-intersections (common in ModelNet), where ray parity fails; it does
assume consistently oriented faces. Brute force over (query, triangle) pairs in chunks, on any torch
device: ``250K x F`` pairs per shape, so large meshes want a GPU.

Point clouds without normals (`point_cloud_sdf`): the distance is to the nearest cloud point. The sign
comes from estimated normals: PCA of each point's ``k`` nearest neighbours, oriented consistently by
propagation along a minimum spanning tree of the neighbour graph weighted by ``1 - |n_i . n_j|``
(Hoppe et al., 1992), each tree's root facing away from the centre. A query's sign is the
distance-weighted vote of its ``k`` nearest points' sides (``n . (q - p)``); where that vote is not clear
(agreement below ``min_agreement``) the sign is unreliable (thin parts, opposite sheets within reach)
and the query keeps the unsigned distance.
"""
from __future__ import annotations

import math

import numpy as np
import torch

NOISE_LEVELS = ((0.4, 0.01), (0.4, 0.05))  # (fraction, std) of near-surface samples; the rest is uniform


# Query points --------------------------------------------------------------------------------------
def sample_mesh_surface(verts: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points uniformly distributed (by area) on a triangle mesh."""
    tri = verts[faces]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if not area.sum() > 0:
        raise ValueError("faces: the mesh has no area to sample")
    pick = rng.choice(len(faces), size=count, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(count))[:, None], rng.random(count)[:, None]
    t = tri[pick]
    return (1 - r1) * t[:, 0] + r1 * (1 - r2) * t[:, 1] + r1 * r2 * t[:, 2]


def sample_queries(surface: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``[count, 3]`` query points around a surface given by samples ``[k, 3]`` (mixture above)."""
    parts = []
    for frac, std in NOISE_LEVELS:
        k = int(round(frac * count))
        base = surface[rng.integers(0, len(surface), size=k)]
        parts.append(base + rng.normal(0.0, std, size=base.shape))
    rest = count - sum(len(p) for p in parts)
    parts.append(rng.uniform(-1.0, 1.0, size=(rest, 3)))
    return rng.permutation(np.concatenate(parts), axis=0)


# Meshes --------------------------------------------------------------------------------------------
def _dot(a, b):  # numpy arrays or tensors
    return (a * b).sum(-1)


def _segment_dist2(p, a, b):
    ab = b - a
    t = (_dot(p - a, ab) / _dot(ab, ab).clamp_min(1e-30)).clamp(0, 1)
    return (p - a - t.unsqueeze(-1) * ab).square().sum(-1)


def _mesh_chunk(q: torch.Tensor, tri: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distance to the mesh and winding number, for queries ``q [c, 3]``, triangles ``[F, 3, 3]``."""
    p = q[:, None, :]  # [c, 1, 3] against [1, F, 3]
    a, b, c = tri[None, :, 0], tri[None, :, 1], tri[None, :, 2]
    n = torch.linalg.cross(b - a, c - a)
    nn2 = _dot(n, n)
    proper = nn2 > 1e-24
    inside = proper & (_dot(torch.linalg.cross(b - a, p - a), n) >= 0) \
        & (_dot(torch.linalg.cross(c - b, p - b), n) >= 0) & (_dot(torch.linalg.cross(a - c, p - c), n) >= 0)
    plane2 = _dot(p - a, n).square() / nn2.clamp_min(1e-30)
    edges = torch.minimum(torch.minimum(_segment_dist2(p, a, b), _segment_dist2(p, b, c)), _segment_dist2(p, c, a))
    dist2 = torch.where(inside, plane2, edges).min(dim=1).values
    # winding number: solid angle of each triangle (Van Oosterom and Strackee, 1983)
    ra, rb, rc = a - p, b - p, c - p
    la, lb, lc = ra.norm(dim=-1), rb.norm(dim=-1), rc.norm(dim=-1)
    num = _dot(ra, torch.linalg.cross(rb, rc))
    den = la * lb * lc + _dot(ra, rb) * lc + _dot(rb, rc) * la + _dot(rc, ra) * lb
    winding = (2 * torch.atan2(num, den)).sum(dim=1) / (4 * math.pi)
    return dist2, winding


def mesh_sdf(verts: np.ndarray, faces: np.ndarray, queries: np.ndarray, device=None,
             pairs_per_chunk: int = 1 << 21) -> np.ndarray:
    """Signed distance ``[q]`` from ``queries [q, 3]`` to a triangle mesh, negative inside (winding
    number above 1/2). Cost: ``q * F`` pair evaluations, ``pairs_per_chunk`` at a time."""
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise ValueError(f"faces: expected triangles [F, 3] with F > 0, got {faces.shape}")
    tri = torch.as_tensor(verts[faces], dtype=torch.float64, device=device)
    q = torch.as_tensor(queries, dtype=torch.float64, device=device)
    step = max(1, pairs_per_chunk // len(faces))
    out = []
    for s in range(0, len(q), step):
        dist2, winding = _mesh_chunk(q[s:s + step], tri)
        out.append(torch.where(winding > 0.5, -1.0, 1.0) * dist2.sqrt())
    return torch.cat(out).cpu().numpy() if out else np.zeros(0)


# Point clouds ----------------------------------------------------------------------------------------
def estimate_normals(points: np.ndarray, k: int = 16) -> np.ndarray:
    """Unit normals ``[n, 3]`` (unoriented) from PCA of each point's ``k`` nearest neighbours."""
    from scipy.spatial import cKDTree

    k = min(k, len(points))
    _, idx = cKDTree(points).query(points, k=k)
    nb = points[idx.reshape(len(points), k)]
    nb = nb - nb.mean(axis=1, keepdims=True)
    _, vecs = np.linalg.eigh(np.einsum("nki,nkj->nij", nb, nb))
    return vecs[:, :, 0]  # eigenvector of the smallest eigenvalue


def orient_normals(points: np.ndarray, normals: np.ndarray, k: int = 16) -> np.ndarray:
    """Flip normals to agree along a minimum spanning tree of the ``k``-NN graph (weights
    ``1 - |n_i . n_j|``); each tree's root, its point farthest from the centre, faces outwards."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree
    from scipy.spatial import cKDTree

    n = len(points)
    k = min(k, n)
    _, idx = cKDTree(points).query(points, k=k)
    idx = idx.reshape(n, k)
    rows, cols = np.repeat(np.arange(n), k), idx.reshape(-1)
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    weight = 1.0 - np.abs(_dot(normals[rows], normals[cols])) + 1e-6  # 0 would mean "no edge"
    graph = coo_matrix((weight, (rows, cols)), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph.maximum(graph.T))
    tree = tree.maximum(tree.T)
    parent = np.arange(n)
    root_sign = np.ones(n)
    _, comp = connected_components(tree, directed=False)
    centre = (points.min(0) + points.max(0)) / 2
    radius = np.linalg.norm(points - centre, axis=1)
    for c in np.unique(comp):  # one traversal per connected piece of the cloud
        members = np.flatnonzero(comp == c)
        root = members[np.argmax(radius[members])]
        _, pred = breadth_first_order(tree, root, directed=False, return_predecessors=True)
        reached = pred >= 0
        parent[reached] = pred[reached]
        root_sign[root] = 1.0 if _dot(normals[root], points[root] - centre) >= 0 else -1.0
    # sign of each point relative to its root: product of parent-child agreements along the path,
    # by pointer jumping (log depth rounds over all points at once)
    rel = np.where(_dot(normals, normals[parent]) >= 0, 1.0, -1.0)
    rel[parent == np.arange(n)] = 1.0
    anc = parent.copy()
    for _ in range(int(np.ceil(np.log2(max(n, 2)))) + 1):
        rel, anc = rel * rel[anc], anc[anc]
    return normals * (rel * root_sign[anc])[:, None]  # anc: by now every point's root


def point_cloud_sdf(points: np.ndarray, queries: np.ndarray, k: int = 16, k_vote: int = 8,
                    min_agreement: float = 0.5, normals: np.ndarray | None = None) -> np.ndarray:
    """Estimated signed distance ``[q]`` from ``queries [q, 3]`` to the surface a point cloud
    ``[n, 3]`` samples (see the module docstring); ``normals`` if known, else estimated and oriented."""
    from scipy.spatial import cKDTree

    if points.ndim != 2 or points.shape[1] != 3 or len(points) < 3:
        raise ValueError(f"points: expected [n, 3] with n >= 3, got {points.shape}")
    if normals is None:
        normals = orient_normals(points, estimate_normals(points, k), k)
    k_vote = min(k_vote, len(points))
    dist, idx = cKDTree(points).query(queries, k=k_vote)
    dist, idx = dist.reshape(len(queries), k_vote), idx.reshape(len(queries), k_vote)
    side = np.sign(_dot(normals[idx], queries[:, None, :] - points[idx]))
    w = 1.0 / (dist + 1e-9)
    vote = (w * side).sum(1) / w.sum(1)
    sign = np.where(np.abs(vote) >= min_agreement, np.where(vote < 0, -1.0, 1.0), 1.0)
    return sign * dist[:, 0]


def sdf_samples(shape, count: int, seed: int, device=None) -> tuple[np.ndarray, np.ndarray]:
    """Query points ``float32 [count, 3]`` and their signed distances ``float32 [count]`` for a shape in
    the unit sphere: a point cloud ``[n, 3]`` or a mesh ``(verts, faces)``. Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    if isinstance(shape, tuple):
        verts, faces = shape
        queries = sample_queries(sample_mesh_surface(verts, faces, count, rng), count, rng)
        sdf = mesh_sdf(verts, faces, queries, device=device)
    else:
        queries = sample_queries(shape, count, rng)
        sdf = point_cloud_sdf(shape, queries)
    return queries.astype(np.float32), sdf.astype(np.float32)
