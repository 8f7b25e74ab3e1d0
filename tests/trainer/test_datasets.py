"""CIFAR and ImageFolder paths on tiny datasets written in the real on-disk formats."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sqlalchemy import select

from store import (
    EmbeddingSnapshot,
    Epoch,
    ProbeSample,
    Run,
    create_db_engine,
    session_factory,
    upgrade_database,
)
from trainer.config import ConfigError, TrainConfig
from trainer.loaders import random_crop_flip
from trainer.loop import prepare, train
from trainer.recorder import Recorder


def write_cifar(root: Path, classes: int, train_per_class: int, test_per_class: int) -> None:
    """Pickled batches exactly as the CIFAR-10 / CIFAR-100 python archives hold them."""
    rng = np.random.default_rng(0)
    cifar10 = classes == 10
    folder = root / ("cifar-10-batches-py" if cifar10 else "cifar-100-python")
    folder.mkdir(parents=True)
    label_key = "labels" if cifar10 else "fine_labels"

    def batch(per_class: int) -> dict:
        labels = np.repeat(np.arange(classes), per_class)
        data = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
        return {"data": data, label_key: labels.tolist()}

    train_files = [f"data_batch_{i}" for i in range(1, 6)] if cifar10 else ["train"]
    for name in train_files:
        (folder / name).write_bytes(pickle.dumps(batch(train_per_class)))
    (folder / ("test_batch" if cifar10 else "test")).write_bytes(pickle.dumps(batch(test_per_class)))
    meta_key = "label_names" if cifar10 else "fine_label_names"
    meta = {meta_key: [f"class{k}" for k in range(classes)]}
    (folder / ("batches.meta" if cifar10 else "meta")).write_bytes(pickle.dumps(meta))


@pytest.fixture
def skip_cifar_checksums(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision verifies the official archives' MD5 sums; tiny test files cannot match them."""
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: Path(path).exists())


def train_in_process(config: TrainConfig) -> int:
    engine = create_db_engine(config.db)
    upgrade_database(engine)
    return train(prepare(config), Recorder(session_factory(engine)), log=lambda _: None)


@pytest.mark.parametrize(
    ("dataset", "classes", "loader"),
    [
        ("cifar10", 10, "resident"),
        ("cifar10", 10, "torchvision"),
        ("cifar100", 100, "auto"),
    ],
)
def test_cifar_trains_from_real_format(tmp_path, skip_cifar_checksums, dataset, classes, loader) -> None:
    write_cifar(tmp_path / "data", classes, train_per_class=1 if classes == 100 else 3, test_per_class=2)
    config = TrainConfig(
        dataset=dataset,
        data_dir=str(tmp_path / "data"),
        model="small_cnn",
        epochs=1,
        batch_size=16,
        loader=loader,
        workers=0,
        db=str(tmp_path / "c.db"),
    )
    run_id = train_in_process(config)
    with session_factory(create_db_engine(config.db))() as session:
        run = session.get(Run, run_id)
        assert run.status == "completed" and run.num_classes == classes and run.probe_size == 2 * classes
        assert run.class_names[:2] == ["class0", "class1"]
        thumbnail = session.scalars(select(ProbeSample.thumbnail).where(ProbeSample.run_id == run_id)).first()
        assert Image.open(__import__("io").BytesIO(thumbnail)).size == (48, 48)
        assert session.get(EmbeddingSnapshot, (run_id, 1)).probe_features.shape == (2 * classes, 64)


def test_cifar_missing_files_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found.*--download"):
        prepare(TrainConfig(dataset="cifar10", data_dir=str(tmp_path)))


def write_imagefolder(root: Path, classes: list[str], per_class: dict[str, int]) -> None:
    rng = np.random.default_rng(0)
    for split, count in per_class.items():
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, size=(30 + i, 40, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")


def test_imagefolder_trains_at_224_px(tmp_path) -> None:
    write_imagefolder(tmp_path / "birds", ["albatross", "wren"], {"train": 3, "test": 2})
    config = TrainConfig(
        dataset="imagefolder",
        data_dir=str(tmp_path / "birds"),
        epochs=1,
        batch_size=4,
        workers=0,
        db=str(tmp_path / "f.db"),
    )
    run_id = train_in_process(config)
    with session_factory(create_db_engine(config.db))() as session:
        run = session.get(Run, run_id)
        assert run.model == "resnet18" and run.class_names == ["albatross", "wren"] and run.feature_dim == 512
        assert session.scalars(select(Epoch.epoch).where(Epoch.run_id == run_id)).all() == [1]


def test_imagefolder_with_mismatched_classes_is_refused(tmp_path) -> None:
    write_imagefolder(tmp_path / "a", ["x", "y"], {"train": 1})
    write_imagefolder(tmp_path / "b", ["x", "z"], {"test": 1})
    (tmp_path / "b" / "test").rename(tmp_path / "a" / "test")
    with pytest.raises(ConfigError, match="different class folders"):
        prepare(TrainConfig(dataset="imagefolder", data_dir=str(tmp_path / "a")))


def test_batch_crop_flip_matches_torchvision_distribution() -> None:
    """Every padded crop offset and both flips occur about equally often, as with RandomCrop + flip."""
    image = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4).repeat(6000, 1, 1, 1)
    generator = torch.Generator().manual_seed(0)
    out = random_crop_flip(image, padding=1, flip=True, generator=generator)
    assert out.shape == image.shape
    padded = torch.nn.functional.pad(image[0].float(), (1, 1, 1, 1))[0]
    windows = {
        (dy, dx, f): (padded[dy : dy + 4, dx : dx + 4].flip(1) if f else padded[dy : dy + 4, dx : dx + 4])
        for dy in range(3)
        for dx in range(3)
        for f in (0, 1)
    }
    counts = dict.fromkeys(windows, 0)
    for sample in out[:, 0].float():
        key = next(k for k, w in windows.items() if torch.equal(w, sample))
        counts[key] += 1
    expected = len(out) / len(windows)
    chi_square = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi_square < 40.8  # 17 degrees of freedom, p = 0.001
