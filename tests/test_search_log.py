"""wconv.experiments.search.log: names and keys of the logs, truncated and damaged lines, logs of
other searches, the lock; every stored log replays under its own name."""
import json
import shutil

import pytest
from toy_objectives import Counting, den_sequence, quadratic

from wconv.experiments import results, search
from wconv.experiments.search import algorithms


def test_truncated_last_line_is_ignored_and_repaired(tmp_path):
    f = quadratic((0.8,))
    log = tmp_path / "cut.jsonl"
    first = search.direct_search(f, 3, max_evals=6, log=log, name="q")
    lines = log.read_text().splitlines()
    # simulate a crash while writing record 6: keep 5 records and half of the 6th
    log.write_text("\n".join(lines[:5]) + "\n" + lines[5][: len(lines[5]) // 2])
    records, config = search.read_log(log)
    assert len(records) == 5 and config["objective"] == "q"
    again = Counting(f)
    resumed = search.direct_search(again, 3, max_evals=6, log=log, name="q")
    assert again.calls == [first.evaluations[5].den]
    assert den_sequence(resumed) == den_sequence(first)
    reread = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["index"] for r in reread] == [1, 2, 3, 4, 5, 6]


def test_damaged_middle_line_is_an_error(tmp_path):
    log = tmp_path / "bad.jsonl"
    search.direct_search(quadratic((0.8,)), 3, max_evals=4, log=log, name="q")
    lines = log.read_text().splitlines()
    lines[1] = lines[1][:10]
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="line 2"):
        search.direct_search(quadratic((0.8,)), 3, max_evals=4, log=log, name="q")


def test_log_of_another_search_is_refused(tmp_path):
    log = tmp_path / "a.jsonl"
    f = quadratic((0.3, 0.7))
    search.direct_search(f, 5, max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="bounds"):
        search.direct_search(f, 5, 1, max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="algorithm"):
        search.direct_search(f, 5, algorithm="GN_DIRECT", max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="objective"):
        search.direct_search(f, 5, max_evals=5, log=log, name="other")
    with pytest.raises(ValueError, match="kernel_size"):
        search.direct_search(quadratic((0.8,)), 3, max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="method"):
        search.random_search(f, 5, max_evals=5, log=log, name="q")
    with pytest.raises(ValueError, match="objective_config"):
        search.direct_search(f, 5, max_evals=5, log=log, name="q", config={"epochs": 2})


def test_log_path_names_the_search_and_hashes_its_config(tmp_path):
    config = {"method": "direct", "kernel_size": 5, "objective": "denoise-dncnn--psnr",
              "objective_config": {"budget": "book"}, "algorithm": "GN_DIRECT_L"}
    path = search.log_path(config, tmp_path)
    assert path.parent == tmp_path and path.name.startswith("denoise-dncnn--psnr-direct-k5-book-")
    assert search.log_path(dict(config), tmp_path) == path
    assert search.log_path(dict(config, algorithm="GN_DIRECT"), tmp_path) != path
    assert search.log_path(config).parent == search.LOG_DIR


def test_a_log_in_use_is_refused_until_released(tmp_path):
    log = tmp_path / "busy.jsonl"
    f = quadratic((0.8,))
    config = {"method": "direct", "objective": "q"}
    with algorithms._Run(f, config, 5, None, log, None):
        with pytest.raises(RuntimeError, match="is in use by another running search"):
            search.direct_search(f, 3, max_evals=3, log=log, name="q")
    # released on exit, and after a search that raised
    with pytest.raises(KeyboardInterrupt):
        search.direct_search(Counting(f, fail_after=2), 3, max_evals=5, log=log, name="q")
    assert len(search.direct_search(f, 3, max_evals=5, log=log, name="q").evaluations) == 5


def test_search_log_appends_records_and_holds_the_lock(tmp_path):
    path = tmp_path / "sub" / "f.jsonl"
    config = {"method": "grid", "objective": "f"}
    ev = search.Evaluation(1, (0.5,), 0.25, 0.1, 0.1, "2026-01-01T00:00:00+00:00")
    with search.SearchLog(path, config) as log:
        assert log.records == []
        log.append(ev)
        with pytest.raises(RuntimeError, match="in use"):
            search.SearchLog(path, config)
    assert json.loads(path.read_text()) == {"index": 1, "den": [0.5], "value": 0.25, "seconds": 0.1,
                                            "elapsed": 0.1, "time": ev.time, "config": config}
    with search.SearchLog(path, config) as log:
        assert log.records == [ev]
    with pytest.raises(ValueError, match="method: log has 'grid', this search has 'random'"):
        search.SearchLog(path, dict(config, method="random"))


def test_log_path_uses_the_results_key():
    config = {"method": "direct", "kernel_size": 5, "objective": "q w+", "objective_config": None}
    path = search.log_path(config)
    assert path.name == f"q_w_-direct-k5-{results.config_key(config)}.jsonl"


STORED_LOGS = sorted(search.LOG_DIR.glob("*.jsonl"))


@pytest.mark.parametrize("stored", STORED_LOGS, ids=lambda p: p.name)
def test_every_stored_log_replays_under_its_own_name(stored, tmp_path):
    """The stored searches keep their keys: each log is found by its config and replays whole."""
    records, config = search.read_log(stored)
    assert records and search.log_path(config) == stored
    assert search.log_path(config, tmp_path).name == stored.name
    copy = tmp_path / stored.name
    shutil.copy(stored, copy)

    def never(den):
        raise AssertionError(f"a stored evaluation was trained again: {den}")

    common = dict(max_evals=len(records), log=copy, name=config["objective"],
                  config=config["objective_config"])
    method, k, bounds = config["method"], config["kernel_size"], config["bounds"]
    if method == "direct":
        if "seed" in config:
            common["seed"] = config["seed"]
        result = search.direct_search(never, k, bounds, algorithm=config["algorithm"], **common)
    elif method == "grid":
        result = search.grid_search(never, k, bounds, points=config["points"], **common)
    else:
        result = search.random_search(never, k, bounds, seed=config["seed"], **common)
    assert result.config == config and result.calls == 0
    assert [(e.den, e.value) for e in result.evaluations] == [(e.den, e.value) for e in records]
    assert copy.read_bytes() == stored.read_bytes()
