"""CIFAR-100 loading, balanced subsets, validation split, batch augmentation, loaders."""
import torch
import pytest

from wconv.experiments import cifar

needs_cifar = pytest.mark.requires_data("cifar-100-python")


@pytest.fixture(scope="module")
def small(data_root):
    return cifar.cifar100(n_per_class=5, val_per_class=2, seed=3, test_per_class=2)


@needs_cifar
def test_load_cifar100_matches_official_layout():
    images, labels = cifar.load_cifar100(train=True, download=False)
    assert images.shape == (50000, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.shape == (50000,) and labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == [500] * 100
    # the documented channel statistics are those of these files
    mean = images.float().div(255).mean(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.tensor(cifar.CIFAR100_MEAN), atol=1e-3)
    test_images, test_labels = cifar.load_cifar100(train=False, download=False)
    assert test_images.shape == (10000, 3, 32, 32)
    assert torch.bincount(test_labels).tolist() == [100] * 100


def test_missing_data_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.delenv("WCONV_FETCH", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        cifar.load_cifar100(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "cifar-100-python") in message
    for part in ("python -m wconv data fetch cifar100", "make data", "WCONV_DATA"):
        assert part in message
    assert not any(tmp_path.iterdir())          # by default nothing is downloaded


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_missing_data_is_fetched_through_the_registry_when_asked(tmp_path, monkeypatch, how):
    from wconv.experiments import datasets

    calls = []

    def fetch(*names, root=None, **kwargs):
        calls.append((names, root))
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "fetch", fetch)
    monkeypatch.setenv("WCONV_FETCH", "1" if how == "environment" else "0")
    with pytest.raises(ConnectionError, match="offline"):
        cifar.load_cifar100(tmp_path, download=True if how == "argument" else None)
    assert calls == [(("cifar100",), tmp_path)]
    calls.clear()
    with pytest.raises(FileNotFoundError):
        cifar.load_cifar100(tmp_path, download=False)
    assert calls == []


def test_archive_constants_come_from_the_registry():
    assert cifar.CIFAR100_MD5 == "eb9058c3a382ffc7106e4002c42a8d85"
    assert cifar.CIFAR100_URL == "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    assert (cifar.CIFAR100_ARCHIVE, cifar.CIFAR100_FOLDER) == ("cifar-100-python.tar.gz",
                                                             "cifar-100-python")


@needs_cifar
def test_subset_is_balanced_seeded_and_disjoint(small):
    info = small.info
    assert (info["train_size"], info["val_size"], info["test_size"]) == (300, 200, 200)
    assert torch.bincount(small.train.labels, minlength=100).tolist() == [3] * 100
    assert torch.bincount(small.val.labels, minlength=100).tolist() == [2] * 100
    again = cifar.cifar100(n_per_class=5, val_per_class=2, seed=3, test_per_class=2)
    assert again.info == info and torch.equal(again.train.images, small.train.images)
    other = cifar.cifar100(n_per_class=5, val_per_class=2, seed=4, test_per_class=2)
    assert other.info["train_hash"] != info["train_hash"]
    # validation images are carved out of the training set and never overlap it
    images, _ = cifar.load_cifar100(download=False)
    flat = images.flatten(1)
    lookup = {bytes(row.numpy()): i for i, row in enumerate(flat)}
    train_idx = {lookup[bytes(x.flatten().numpy())] for x in small.train.images}
    val_idx = {lookup[bytes(x.flatten().numpy())] for x in small.val.images}
    assert len(train_idx) == 300 and len(val_idx) == 200 and not train_idx & val_idx


def test_balanced_subset_and_split():
    labels = torch.arange(4).repeat_interleave(10)
    idx = cifar.balanced_subset(labels, 6, seed=0)
    assert torch.bincount(labels[idx]).tolist() == [6] * 4
    assert torch.equal(idx, cifar.balanced_subset(labels, 6, seed=0))
    train, val = cifar.split_per_class(labels, idx, 2, seed=1)
    assert torch.bincount(labels[val]).tolist() == [2] * 4
    assert set(train.tolist()) | set(val.tolist()) == set(idx.tolist())
    assert not set(train.tolist()) & set(val.tolist())
    with pytest.raises(ValueError, match="per_class=11 asks for more examples than class 0 has"):
        cifar.balanced_subset(labels, 11, seed=0)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(n_per_class=5, val_per_class=5), r"val_per_class \(5\) must be smaller than n_per_class \(5\)"),
    (dict(n_per_class=-1), "n_per_class must be an integer >= 2, got -1"),
    (dict(n_per_class=5, val_per_class=1, seed=1.5), "seed must be an integer >= 0, got 1.5"),
])
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        cifar.cifar100(**kwargs)


def test_augment_is_a_shifted_flipped_copy():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) + 1
    out = cifar.augment(x, g, padding=2, flip=True)
    assert out.shape == x.shape
    for img, src in zip(out, x):
        # every output is some crop of the zero-padded (possibly flipped) input
        found = False
        for cand in (src, src.flip(2)):
            padded = torch.nn.functional.pad(cand, (2, 2, 2, 2))
            for dy in range(5):
                for dx in range(5):
                    found |= torch.equal(padded[:, dy:dy + 8, dx:dx + 8], img)
        assert found


@needs_cifar
def test_loader_is_deterministic_per_epoch_and_normalises(small):
    def batches(epoch, **kw):
        loader = cifar.TensorLoader(small.train, 64, small.mean, small.std, shuffle=True,
                                   augment=True, seed=1, **kw)
        loader.set_epoch(epoch)
        return list(loader)

    a, b, c = batches(0), batches(0), batches(1)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))
    assert not torch.equal(a[0][0], c[0][0])
    assert len(a) == 5 and sum(len(y) for _, y in a) == 300
    plain = torch.cat([x for x, _ in cifar.TensorLoader(small.train, 100, small.mean, small.std)])
    assert abs(plain.mean().item()) < 0.2 and abs(plain.std().item() - 1) < 0.2
    # two processes of a distributed run split every global batch between them
    r0, r1 = batches(0, rank=0, world_size=2), batches(0, rank=1, world_size=2)
    for (x, y), (x0, y0), (x1, y1) in zip(a, r0, r1):
        assert torch.equal(torch.cat([y0, y1]).sort().values, y.sort().values)
        assert torch.equal(x0, x[0::2]) and torch.equal(x1, x[1::2])


def test_loader_batch_augmentation_speed():
    """CPU speed of batch augmentation on tensors (printed, not asserted)."""
    import time

    ds = cifar.TensorDataset(torch.randint(0, 256, (2048, 3, 32, 32), dtype=torch.uint8),
                            torch.zeros(2048, dtype=torch.int64))
    loader = cifar.TensorLoader(ds, 128, cifar.CIFAR100_MEAN, cifar.CIFAR100_STD, shuffle=True,
                               augment=True)
    start = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    print(f"batch augmentation + normalisation: {n / (time.perf_counter() - start):.0f} images/s")
    assert n == 2048
