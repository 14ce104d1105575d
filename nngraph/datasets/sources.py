"""The raw objects INRs are fitted to: Fashion-MNIST / MNIST images from IDX files, ModelNet shapes
from the official OFF-mesh layout or from a point-cloud ``.npz``, and the unit-sphere normalisation
every shape goes through.

Images come back as ``uint8 [n, 28, 28]`` with ``int64 [n]`` labels; shapes as float arrays.
Every reader checks what it reads and raises a ValueError that names the file.
"""
from __future__ import annotations

import gzip
import io
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Debian's dataset-fashion-mnist; NNGRAPH_FASHION_MNIST_DIR points elsewhere (CI: at an empty folder, to
# show the tests need nothing the README's commands do not install).
FASHION_MNIST_DIR = Path(os.environ.get("NNGRAPH_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(d) for d in range(10))

# IDX type byte -> big-endian numpy dtype (the format's own table)
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


@dataclass
class ImageSet:
    """One split of an image classification set: ``images uint8 [n, H, W]``, ``labels int64 [n]``."""
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    files: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class ShapeSet:
    """One split of a shape classification set. Either ``points`` ``float32 [n, k, 3]`` (point clouds)
    or ``paths`` (one mesh file per shape, read lazily with `read_off`)."""
    labels: np.ndarray
    classes: tuple[str, ...]
    names: tuple[str, ...]
    points: np.ndarray | None = None
    paths: tuple[Path, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.labels)


# IDX ----------------------------------------------------------------------------------------------
def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or not): checks the magic number, the dimensions and that the data
    is exactly as long as they say."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such IDX file")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:  # truncated or not gzip at all
        raise ValueError(f"{path}: cannot decompress ({type(e).__name__}: {e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise ValueError(f"{path}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'}; expected "
                         "00 00 <type> <ndim>)")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, expected at least {header})")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: IDX dimensions {dims} need {expected} bytes, file has {len(raw)} "
                         f"({'truncated' if len(raw) < expected else 'trailing data'})")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an IDX file, gzip-compressed (reproducibly: no timestamp) when the name ends in ``.gz``."""
    array = np.asarray(array)
    code = {v.newbyteorder("="): k for k, v in _IDX_DTYPES.items()}.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"array: dtype {array.dtype} has no IDX type code")
    raw = (bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
           + array.astype(array.dtype.newbyteorder(">")).tobytes())
    path = Path(path)
    if path.suffix == ".gz":
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as f:
            f.write(raw)
        raw = buf.getvalue()
    path.write_bytes(raw)


def _find_idx(root: Path, split: str, kind: str) -> Path:
    stem = f"{_SPLIT_PREFIX[split]}-{kind}-ubyte"
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise ValueError(f"{root}: no {stem}[.gz] (expected the four standard IDX files)")


def load_idx_images(root: str | Path, split: str = "train", classes: tuple[str, ...] = MNIST_CLASSES) -> ImageSet:
    """One split (``"train"`` or ``"test"``) of an MNIST-style set stored as the four standard IDX
    files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` in ``root``."""
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"split: expected one of {tuple(_SPLIT_PREFIX)}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root: {root} is not a directory")
    img_path, lab_path = _find_idx(root, split, "images-idx3"), _find_idx(root, split, "labels-idx1")
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"{img_path}: expected uint8 images [n, H, W], got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{lab_path}: expected uint8 labels [n], got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{img_path}: {len(images)} images but {lab_path.name} has {len(labels)} labels")
    if len(labels) and labels.max() >= len(classes):
        raise ValueError(f"{lab_path}: label {labels.max()} out of range for {len(classes)} classes")
    return ImageSet(images, labels.astype(np.int64), tuple(classes), (str(img_path), str(lab_path)))


def load_fashion_mnist(root: str | Path = FASHION_MNIST_DIR, split: str = "train") -> ImageSet:
    return load_idx_images(root, split, FASHION_MNIST_CLASSES)


def load_mnist(root: str | Path, split: str = "train") -> ImageSet:
    return load_idx_images(root, split, MNIST_CLASSES)


def write_image_subset(src: str | Path, dst: str | Path, per_class: int = 100) -> None:
    """Write the first ``per_class`` images of every class (in file order) of both splits of the IDX
    set in ``src`` to ``dst`` as the same four ``.gz`` files: how the embedded subset is made."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for split, prefix in _SPLIT_PREFIX.items():
        data = load_idx_images(src, split)
        keep = np.sort(np.concatenate([np.flatnonzero(data.labels == c)[:per_class]
                                       for c in np.unique(data.labels)]))
        write_idx(dst / f"{prefix}-images-idx3-ubyte.gz", data.images[keep])
        write_idx(dst / f"{prefix}-labels-idx1-ubyte.gz", data.labels[keep].astype(np.uint8))


# ModelNet -----------------------------------------------------------------------------------------
def read_off(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``float64 [V, 3]`` and triangles ``int64 [F, 3]`` of an OFF mesh. Accepts ModelNet's
    quirk of a first line ``OFF<V> <F> <E>`` run together, ``#`` comments, and polygons (fanned into
    triangles)."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read OFF file ({type(e).__name__}: {e})") from e
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines or not lines[0].startswith("OFF"):
        raise ValueError(f"{path}: not an OFF file (first line {lines[0][:40] if lines else ''!r})")
    head = lines[0][3:].split()
    if not head:  # counts on their own line
        lines = lines[1:]
        head = lines[0].split() if lines else []
    body = lines[1:]
    try:
        n_verts, n_faces = int(head[0]), int(head[1])
        verts = np.array([ln.split()[:3] for ln in body[:n_verts]], dtype=np.float64).reshape(-1, 3)
        tris = []
        for ln in body[n_verts:n_verts + n_faces]:
            item = [int(t) for t in ln.split()]
            k, idx = item[0], item[1:item[0] + 1]
            if k < 3 or len(idx) != k:
                raise ValueError(f"face {ln!r}")
            tris += [(idx[0], idx[j], idx[j + 1]) for j in range(1, k - 1)]
    except (ValueError, IndexError) as e:
        raise ValueError(f"{path}: malformed OFF body ({e})") from e
    faces = np.array(tris, dtype=np.int64).reshape(-1, 3)
    if not np.isfinite(verts).all():
        raise ValueError(f"{path}: vertex coordinates that are NaN or infinite")
    if len(verts) != n_verts or len(body) < n_verts + n_faces:
        raise ValueError(f"{path}: header says {n_verts} vertices and {n_faces} faces, file is shorter")
    if faces.size and (faces.min() < 0 or faces.max() >= n_verts):
        raise ValueError(f"{path}: face refers to a vertex outside 0..{n_verts - 1}")
    return verts, faces


def write_off(path: str | Path, verts: np.ndarray, faces: np.ndarray, modelnet_header: bool = False) -> None:
    """Write a triangle mesh as OFF (with ModelNet's run-together first line if asked)."""
    head = f"OFF{len(verts)} {len(faces)} 0" if modelnet_header else f"OFF\n{len(verts)} {len(faces)} 0"
    rows = [head] + [" ".join(f"{c:.9g}" for c in v) for v in verts] + [f"3 {a} {b} {c}" for a, b, c in faces]
    Path(path).write_text("\n".join(rows) + "\n")


def load_modelnet_off(root: str | Path, split: str = "train") -> ShapeSet:
    """One split of a ModelNet set in its official layout ``<root>/<class>/<split>/<class>_NNNN.off``;
    shapes sorted by file name. The classes are every folder with a ``train/`` or a ``test/`` folder,
    sorted by name, whichever split is read, so that a label means the same class in both splits.
    Meshes are read later, one at a time."""
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root: {root} is not a directory")
    classes = tuple(sorted(d.name for d in root.iterdir() if (d / "train").is_dir() or (d / "test").is_dir()))
    if not any((root / name / split).is_dir() for name in classes):
        raise ValueError(f"root: {root} has no <class>/{split}/ folders (expected the ModelNet layout)")
    paths, labels = [], []
    for c, name in enumerate(classes):
        files = sorted((root / name / split).glob("*.off"))
        paths += files
        labels += [c] * len(files)
    return ShapeSet(np.asarray(labels, np.int64), classes, tuple(p.stem for p in paths), paths=tuple(paths))


def load_modelnet_npz(path: str | Path, split: str = "train") -> ShapeSet:
    """One split of a point-cloud ``.npz`` (keys ``{split}_points [n, k, 3]``, ``{split}_labels``,
    ``{split}_names``, ``classes``), as ``../shared/data/modelnet10_pointclouds.npz``."""
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such point-cloud file")
    keys = (f"{split}_points", f"{split}_labels", f"{split}_names", "classes")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise ValueError(f"{path}: missing arrays {missing} (has {sorted(f.files)})")
            points, labels, names, classes = (f[k] for k in keys)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: cannot read .npz ({type(e).__name__}: {e})") from e
    if points.ndim != 3 or points.shape[2] != 3 or len(points) != len(labels) or len(names) != len(labels):
        raise ValueError(f"{path}: expected {split}_points [n, k, 3] with n labels and names, got "
                         f"{points.shape}, {labels.shape}, {names.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(f"{path}: labels outside 0..{len(classes) - 1}")
    return ShapeSet(labels.astype(np.int64), tuple(map(str, classes)), tuple(map(str, names)),
                    points=points.astype(np.float32))


def normalize_unit_sphere(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre a shape ``[..., 3]`` on its bounding-box centre and scale it so its farthest point lies on
    the unit sphere. Returns ``(normalised, centre, scale)`` with ``normalised = (points - centre) / scale``."""
    points = np.asarray(points, dtype=np.float64)
    flat = points.reshape(-1, points.shape[-1])
    if len(flat) == 0 or not np.isfinite(flat).all():
        raise ValueError("points: expected a non-empty array of finite coordinates")
    centre = (flat.min(0) + flat.max(0)) / 2
    scale = float(np.linalg.norm(flat - centre, axis=1).max())
    if scale == 0:
        raise ValueError("points: all points coincide; the shape cannot be scaled into the unit sphere")
    return (points - centre) / scale, centre, scale
