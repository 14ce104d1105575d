import numpy as np
import pytest

from nngraph.datasets.sdf import (estimate_normals, mesh_sdf, orient_normals, point_cloud_sdf, sample_mesh_surface,
                         sample_queries, sdf_samples)

CUBE_V = np.array([[x, y, z] for x in (-.5, .5) for y in (-.5, .5) for z in (-.5, .5)])
CUBE_F = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                   [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])


def box_sdf(q, half=0.5):
    d = np.abs(q) - half
    return np.linalg.norm(np.maximum(d, 0), axis=1) + np.minimum(d.max(1), 0)


def sphere_cloud(n=1024, r=0.8, seed=0):
    p = np.random.default_rng(seed).normal(size=(n, 3))
    return p / np.linalg.norm(p, axis=1, keepdims=True) * r


def test_mesh_sdf_is_exact_on_a_cube():
    q = np.random.default_rng(1).uniform(-1, 1, size=(3000, 3))
    assert np.abs(mesh_sdf(CUBE_V, CUBE_F, q, pairs_per_chunk=5000) - box_sdf(q)).max() < 1e-12


def test_mesh_sdf_sign_survives_a_hole():
    q = np.random.default_rng(2).uniform(-0.4, 0.4, size=(500, 3))  # inside the cube
    q[:, 2] = -np.abs(q[:, 2])  # lower half, away from the hole
    open_box = CUBE_F[[i for i in range(12) if i not in (10, 11)]]  # drop the z = +0.5 face
    assert (mesh_sdf(CUBE_V, open_box, q) < 0).mean() > 0.9


def test_mesh_surface_samples_lie_on_the_surface():
    s = sample_mesh_surface(CUBE_V, CUBE_F, 2000, np.random.default_rng(0))
    assert np.abs(box_sdf(s)).max() < 1e-12
    assert np.allclose(np.abs(s).max(1), 0.5)


def test_normals_of_a_sphere_point_outwards():
    p = sphere_cloud()
    n = orient_normals(p, estimate_normals(p))
    assert np.allclose(np.linalg.norm(n, axis=1), 1)
    assert ((n * p).sum(1) / 0.8 > 0.9).all()


@pytest.mark.parametrize("shape", ["sphere", "cube"])
def test_point_cloud_sdf_signs(shape):
    rng = np.random.default_rng(3)
    q = rng.uniform(-1, 1, size=(4000, 3))
    if shape == "sphere":
        p, true = sphere_cloud(), np.linalg.norm(q, axis=1) - 0.8
    else:
        p, true = sample_mesh_surface(CUBE_V, CUBE_F, 1024, rng), box_sdf(q)
    est = point_cloud_sdf(p, q)
    assert (np.sign(est) == np.sign(true)).mean() > 0.98
    assert np.abs(np.abs(est) - np.abs(true)).mean() < 0.03


def test_sdf_samples_are_deterministic():
    p = sphere_cloud(256)
    q1, s1 = sdf_samples(p, 5000, seed=7)
    q2, s2 = sdf_samples(p, 5000, seed=7)
    q3, _ = sdf_samples(p, 5000, seed=8)
    assert q1.dtype == np.float32 and q1.shape == (5000, 3) and s1.shape == (5000,)
    assert np.array_equal(q1, q2) and np.array_equal(s1, s2) and not np.array_equal(q1, q3)
    qm, sm = sdf_samples((CUBE_V, CUBE_F), 2000, seed=0)
    assert np.allclose(sm, box_sdf(qm.astype(np.float64)), atol=1e-6)
    # the mixture: most queries near the surface, the rest spread over the cube
    near = np.abs(np.linalg.norm(q1, axis=1) - 0.8) < 0.15
    assert 0.75 < near.mean() < 0.95


def test_sample_queries_mixture():
    q = sample_queries(sphere_cloud(), 10000, np.random.default_rng(0))
    assert q.shape == (10000, 3) and (np.abs(q) <= 1.3).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="points"):
        point_cloud_sdf(np.zeros((2, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="faces"):
        mesh_sdf(CUBE_V, np.zeros((0, 3), int), np.zeros((1, 3)))
