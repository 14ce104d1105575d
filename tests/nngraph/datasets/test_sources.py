from pathlib import Path

import numpy as np
import pytest

from nngraph.datasets import sources
from nngraph.datasets.sources import (load_fashion_mnist, load_idx_images, load_modelnet_npz, load_modelnet_off,
                             normalize_unit_sphere, read_idx, read_off, write_idx, write_image_subset, write_off)

REPO = Path(__file__).resolve().parents[3]
SUBSET = REPO / "experiments" / "data" / "fashion-mnist-subset"
NPZ = REPO.parent / "shared" / "data" / "modelnet10_pointclouds.npz"


def _idx_set(folder: Path, n=12, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    for prefix in ("train", "t10k"):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, gz):
    images, labels = _idx_set(tmp_path, gz=gz)
    data = load_idx_images(tmp_path, "test")
    assert data.images.dtype == np.uint8 and np.array_equal(data.images, images)
    assert data.labels.dtype == np.int64 and np.array_equal(data.labels, labels)
    f = tmp_path / "x.idx"
    write_idx(f, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.array_equal(read_idx(f), np.arange(6, dtype=np.float32).reshape(2, 3))


def test_gz_is_reproducible(tmp_path):
    a, b = tmp_path / "a.gz", tmp_path / "b.gz"
    write_idx(a, np.ones((3, 4), np.uint8))
    write_idx(b, np.ones((3, 4), np.uint8))
    assert a.read_bytes() == b.read_bytes()


def test_truncated_and_wrong_files(tmp_path):
    _idx_set(tmp_path, gz=False)
    raw = tmp_path / "train-images-idx3-ubyte"
    raw.write_bytes(raw.read_bytes()[:-10])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*truncated"):
        load_idx_images(tmp_path, "train")
    gz = tmp_path / "cut.gz"
    write_idx(gz, np.zeros((5, 28, 28), np.uint8))
    gz.write_bytes(gz.read_bytes()[:40])
    with pytest.raises(ValueError, match="cut.gz"):
        read_idx(gz)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 20)
    with pytest.raises(ValueError, match="bad.*magic"):
        read_idx(bad)
    # labels that do not match the images
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="12 images but .* 5 labels"):
        load_idx_images(tmp_path, "test")
    with pytest.raises(ValueError, match="no such IDX file"):
        read_idx(tmp_path / "missing")
    with pytest.raises(ValueError, match="split"):
        load_idx_images(tmp_path, "val")


def test_embedded_subset():
    for split in ("train", "test"):
        data = load_fashion_mnist(SUBSET, split)
        assert data.images.shape == (1000, 28, 28)
        assert np.array_equal(np.bincount(data.labels), np.full(10, 100))
        assert data.classes[0] == "T-shirt/top"
        full_dir = sources.FASHION_MNIST_DIR
        if (full_dir / "t10k-images-idx3-ubyte.gz").exists():  # the subset is the first 100 of each class
            full = load_fashion_mnist(full_dir, split)
            keep = np.sort(np.concatenate([np.flatnonzero(full.labels == c)[:100] for c in range(10)]))
            assert np.array_equal(full.images[keep], data.images)


def test_write_image_subset(tmp_path):
    write_image_subset(SUBSET, tmp_path, per_class=3)
    data = load_fashion_mnist(tmp_path, "train")
    src = load_fashion_mnist(SUBSET, "train")
    assert len(data) == 30 and np.array_equal(np.bincount(data.labels), np.full(10, 3))
    first = [np.flatnonzero(src.labels == c)[0] for c in range(10)]
    assert all(any(np.array_equal(src.images[i], im) for im in data.images) for i in first)


CUBE_V = np.array([[x, y, z] for x in (0, 2) for y in (0, 2) for z in (0, 2)], float)
CUBE_F = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                   [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])


@pytest.mark.parametrize("modelnet_header", [False, True])
def test_read_off(tmp_path, modelnet_header):
    path = tmp_path / "cube.off"
    write_off(path, CUBE_V, CUBE_F, modelnet_header=modelnet_header)
    assert path.read_text().startswith("OFF8 12 0" if modelnet_header else "OFF\n8 12 0")
    v, f = read_off(path)
    assert np.allclose(v, CUBE_V) and np.array_equal(f, CUBE_F)


def test_read_off_polygons_comments_and_errors(tmp_path):
    path = tmp_path / "quad.off"
    path.write_text("OFF\n# a comment\n4 1 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n")
    v, f = read_off(path)
    assert v.shape == (4, 3) and np.array_equal(f, [[0, 1, 2], [0, 2, 3]])
    path.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n1 1 0\n3 0 1 7\n")
    with pytest.raises(ValueError, match="quad.off.*outside"):
        read_off(path)
    path.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")
    with pytest.raises(ValueError, match="quad.off"):
        read_off(path)
    path.write_text("PLY\n")
    with pytest.raises(ValueError, match="not an OFF file"):
        read_off(path)


def test_modelnet_off_layout(tmp_path):
    for cls in ("chair", "bed"):
        for split, n in (("train", 2), ("test", 1)):
            (tmp_path / cls / split).mkdir(parents=True)
            for i in range(n):
                write_off(tmp_path / cls / split / f"{cls}_{i + 1:04d}.off", CUBE_V * (i + 1), CUBE_F, modelnet_header=True)
    train = load_modelnet_off(tmp_path, "train")
    assert train.classes == ("bed", "chair")
    assert train.names == ("bed_0001", "bed_0002", "chair_0001", "chair_0002")
    assert np.array_equal(train.labels, [0, 0, 1, 1]) and len(load_modelnet_off(tmp_path, "test")) == 2
    v, _ = read_off(train.paths[1])
    assert np.allclose(v, CUBE_V * 2)
    with pytest.raises(ValueError, match="no <class>/train/"):
        load_modelnet_off(tmp_path / "chair", "train")


def test_modelnet_npz_synthetic(tmp_path):
    path = tmp_path / "pc.npz"
    rng = np.random.default_rng(0)
    np.savez(path, train_points=rng.normal(size=(3, 16, 3)).astype(np.float32), train_labels=np.array([0, 1, 1]),
             train_names=np.array(["a_0001", "b_0001", "b_0002"]), test_points=np.zeros((1, 16, 3), np.float32),
             test_labels=np.array([0]), test_names=np.array(["a_0002"]), classes=np.array(["a", "b"]))
    data = load_modelnet_npz(path, "train")
    assert data.points.shape == (3, 16, 3) and data.classes == ("a", "b") and data.names[2] == "b_0002"
    np.savez(path, train_points=np.zeros((2, 4, 3)), classes=np.array(["a"]))
    with pytest.raises(ValueError, match="missing arrays"):
        load_modelnet_npz(path, "train")


@pytest.mark.skipif(not NPZ.exists(), reason="../shared/data/modelnet10_pointclouds.npz not present")
def test_modelnet10_npz():
    train, test = load_modelnet_npz(NPZ, "train"), load_modelnet_npz(NPZ, "test")
    assert train.points.shape == (3991, 1024, 3) and len(test) == 908
    assert np.array_equal(np.bincount(train.labels), [106, 515, 889, 200, 200, 465, 200, 680, 392, 344])
    assert train.classes[6] == "night_stand"


def test_normalize_unit_sphere():
    pts = np.random.default_rng(0).normal(size=(500, 3)) * [3, 1, 0.5] + [100, -4, 7]
    out, centre, scale = normalize_unit_sphere(pts)
    assert np.isclose(np.linalg.norm(out, axis=1).max(), 1.0)
    assert np.allclose((out.min(0) + out.max(0)) / 2, 0, atol=1e-12)
    assert np.allclose(out * scale + centre, pts)
    with pytest.raises(ValueError, match="coincide"):
        normalize_unit_sphere(np.ones((4, 3)))


def test_modelnet_classes_are_the_same_in_both_splits(tmp_path):
    # "airplane" has no test/ folder: the test labels of later classes must not shift down by one.
    for cls, splits in (("airplane", ("train",)), ("chair", ("train", "test")), ("desk", ("test",))):
        for split in splits:
            (tmp_path / cls / split).mkdir(parents=True)
            write_off(tmp_path / cls / split / f"{cls}_0001.off", CUBE_V, CUBE_F, modelnet_header=True)
    train, test = load_modelnet_off(tmp_path, "train"), load_modelnet_off(tmp_path, "test")
    assert train.classes == test.classes == ("airplane", "chair", "desk")
    assert np.array_equal(train.labels, [0, 1]) and np.array_equal(test.labels, [1, 2])


def test_read_off_refuses_non_finite_vertices(tmp_path):
    path = tmp_path / "nan.off"
    write_off(path, np.where(np.arange(CUBE_V.size).reshape(CUBE_V.shape) == 4, np.nan, CUBE_V), CUBE_F)
    with pytest.raises(ValueError, match=r"nan\.off: vertex coordinates that are NaN"):
        read_off(path)
