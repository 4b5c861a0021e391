"""DistributedDataParallel on CPU (gloo, 2 processes): same result as one process, torchrun CLI."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from torch import nn

import wconv
from wconv.experiments import classify, cifar, results, train

pytestmark = pytest.mark.requires_data("cifar-100-python")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _model() -> nn.Module:
    # no BatchNorm: with it, each process normalises its own half batch, so DDP would
    # not equal one process by design
    torch.manual_seed(0)
    return nn.Sequential(wconv.WeightedConv2d(3, 8, 3, padding=1, density=[0.7]), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1, stride=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 100))


def _fit(train_set, val_set, rank=0, world_size=1):
    kw = dict(mean=cifar.CIFAR100_MEAN, std=cifar.CIFAR100_STD, rank=rank, world_size=world_size)
    model = _model()
    out = train.fit(model, cifar.TensorLoader(train_set, 40, shuffle=True, augment=True,
                                             drop_last=True, seed=5, **kw),
                    cifar.TensorLoader(val_set, 50, **kw), loss_fn=nn.functional.cross_entropy,
                    metrics=train.accuracy_metrics(), epochs=2, lr=0.1, seed=5, device="cpu",
                    progress=False)
    return train.unwrap(model).state_dict(), out


def _worker(rank, world_size, port, train_set, val_set, folder):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))
    torch.set_num_threads(1)
    assert train.setup_distributed() == (rank, world_size)
    state, out = _fit(train_set, val_set, rank, world_size)
    torch.save({"state": state, "epochs": out["epochs"]}, os.path.join(folder, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


def test_ddp_two_processes_match_one(tmp_path):
    d = cifar.cifar100(n_per_class=3, val_per_class=1, test_per_class=1, seed=0)
    torch.multiprocessing.spawn(_worker, args=(2, _free_port(), d.train, d.val, str(tmp_path)),
                                nprocs=2, join=True)
    single_state, single = _fit(d.train, d.val)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    for name, value in single_state.items():
        assert torch.equal(ranks[0]["state"][name], ranks[1]["state"][name]), name
        assert torch.allclose(ranks[0]["state"][name], value, atol=1e-5, rtol=1e-4), name
    for row_ddp, row in zip(ranks[0]["epochs"], single["epochs"]):
        for key in ("train_loss", "val_loss", "val_top1", "train_top5"):
            assert row_ddp[key] == pytest.approx(row[key], rel=1e-4, abs=1e-4), key


def test_torchrun_runs_the_cli(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), "-m", "wconv", "train", "--arch", "vgg11",
           "--density", "paper", "--budget", "smoke", "--seed", "1", "--no-progress",
           "--results-dir", str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = classify.make_config("vgg11", "paper", 3, seed=1, budget="smoke")
    record = json.loads(results.result_path(cfg, tmp_path).read_text())
    assert record["world_size"] == 2 and record["complete"]
    assert len(record["epochs"]) == cfg["epochs"]
    assert record["data"]["train_size"] == 400  # every process saw its half of each batch
