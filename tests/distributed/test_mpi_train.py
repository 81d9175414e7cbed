"""``mpiexec -n 2 graphgrad train``: the command itself over real MPI ranks (a few seconds each).

Each test runs the real command (``python -m graphgrad`` or, with ``patch``, a few lines of
Python first) under MPICH's mpiexec, and compares with the single-process command.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from graphgrad.io import STATE_FILE, load_checkpoint
from tests.cliproc import env, gg
from tests.distributed.mpi_harness import mpiexec

QUICK = ["--dataset", "moons", "--hidden", "16", "--quiet"]
# Rank r saves its final weights to DUMP/rank<r>.npz (outside the run folder), to compare ranks.
DUMP_WEIGHTS = """
import os, numpy as np
import graphgrad.train.experiment as ex
from graphgrad.distributed.comm import current
_finish = ex._finish
def finish(run_dir, trainer, prepared, seconds):
    np.savez(os.path.join(os.environ["DUMP"], f"rank{current().rank}.npz"), **trainer.model.state_dict())
    return _finish(run_dir, trainer, prepared, seconds)
ex._finish = finish
"""


def mpi_gg(*args: object, n: int = 2, patch: str = "", cwd: Path | None = None, extra_env: dict | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [str(a) for a in args]
    if patch:
        code = f"{patch}\nimport sys\nfrom graphgrad.cli import main\nsys.exit(main({argv!r}))\n"
        command = [mpiexec(), "-n", str(n), sys.executable, "-c", code]
    else:
        command = [mpiexec(), "-n", str(n), sys.executable, "-m", "graphgrad", *argv]
    return subprocess.run(command, capture_output=True, text=True, env={**env(), **(extra_env or {})}, cwd=cwd,
                          timeout=timeout)


def weights(run: Path) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in load_checkpoint(run, groups=["model"]).groups["model"].items()}


def max_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()) for k in a)


def bitwise_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes() for k in a)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("extra", [[], ["--class-weight", "balanced", "--l2", "0.001"]])
def test_two_ranks_equal_one_process_and_only_rank_0_writes(tmp_path: Path, extra: list[str]) -> None:
    # 700 training examples in global batches of 48: the last batch (28) splits 14/14; with 44 it
    # would not matter either (the loss is weighed by each rank's share, class weights included).
    args = ["train", *QUICK, "--epochs", "3", "--batch-size", "48", *extra]
    single = gg(*args, "--out", tmp_path / "one")
    assert single.code == 0, single.err
    (tmp_path / "two").mkdir()
    (tmp_path / "dump").mkdir()
    proc = mpi_gg(*args, "--out", "run", patch=DUMP_WEIGHTS, cwd=tmp_path / "two",
                  extra_env={"DUMP": str(tmp_path / "dump")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # the other rank prints nothing
    assert proc.stdout.count("test accuracy") == 1
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two" / "run")
    # float32 summation order: measured 3e-8 after 3 epochs of Adam
    assert max_difference(one, two) <= 1e-6
    ranks = [dict(np.load(tmp_path / "dump" / f"rank{r}.npz", allow_pickle=False)) for r in (0, 1)]
    assert bitwise_equal(ranks[0], ranks[1]) and bitwise_equal(ranks[0], two)
    # the same files as one process, nothing else anywhere in the working folder
    assert listing(tmp_path / "two") == ["run", *[f"run/{name}" for name in listing(tmp_path / "one")]]
    sums = [json.loads((tmp_path / d / "summary.json").read_text()) for d in ("one", "two/run")]
    assert sums[0]["test"]["accuracy"] == sums[1]["test"]["accuracy"] and sums[1]["ranks"] == 2
    rows = [json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("one", "two/run")]
    for a, b in zip(*rows):
        assert abs(a["train_loss"] - b["train_loss"]) < 1e-6 and a["train_accuracy"] == b["train_accuracy"]


def wait_for_epoch(run: Path, epoch: int, proc: subprocess.Popen[str], limit: float = 60) -> None:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            if json.loads((run / STATE_FILE).read_text())["state"]["epoch"] >= epoch:
                return
        except (OSError, ValueError, KeyError):
            pass
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint of epoch {epoch} within {limit} s")


def test_resume_after_kill_is_bitwise_the_uninterrupted_run_and_goes_on_with_other_rank_counts(
        tmp_path: Path) -> None:
    args = ["train", *QUICK, "--epochs", "6", "--batch-size", "8", "--dropout", "0.1"]
    whole = mpi_gg(*args, "--out", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    run = tmp_path / "killed"
    command = [mpiexec(), "-n", "2", sys.executable, "-m", "graphgrad", *args, "--out", str(run)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                            start_new_session=True)
    try:
        wait_for_epoch(run, 2, proc)
        rank0 = json.loads((run / ".graphgrad-lock").read_text())["pid"]  # the lock names rank 0
        os.kill(rank0, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    saved = json.loads((run / STATE_FILE).read_text())["state"]["epoch"]
    assert 2 <= saved < 6
    other = tmp_path / "killed-then-one-process"
    shutil.copytree(run, other)
    resumed = mpi_gg("train", "--resume", run, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert bitwise_equal(weights(run), weights(tmp_path / "whole"))
    # one process goes on from the 2-rank checkpoint: the same global batches; only the dropout
    # masks differ (each rank draws its own), so the weights agree loosely
    one = gg("train", "--resume", other)
    assert one.code == 0, one.err
    assert "saved on 2 process(es) and goes on with 1" in one.out
    assert max_difference(weights(other), weights(tmp_path / "whole")) < 0.5
    state = json.loads((other / STATE_FILE).read_text())["state"]
    assert state["events"][-1]["why"] == "resumed on 1 processes, saved on 2"


def test_resume_on_another_number_of_ranks_equals_the_uninterrupted_run(tmp_path: Path) -> None:
    # No dropout: a one-process run interrupted in the middle of its second epoch (step 20 of 15
    # per epoch) and continued on 2 ranks equals the uninterrupted one-process run to float32
    # summation order; the batches of 47 split 24/23.
    args = ["train", *QUICK, "--epochs", "4", "--batch-size", "47"]
    assert gg(*args, "--out", tmp_path / "whole").code == 0
    patch = ("import graphgrad.train.trainer as t\n_correct = t.Trainer._correct\n"  # runs once per step
             "def correct(self, out, target):\n    if self.step == 20:\n        self.interrupt()\n"
             "    return _correct(self, out, target)\n"
             "t.Trainer._correct = correct\n")
    first = gg(*args, "--out", tmp_path / "run", patch=patch)
    assert first.code == 130, first.err
    assert json.loads((tmp_path / "run" / STATE_FILE).read_text())["state"]["step"] == 21
    resumed = mpi_gg("train", "--resume", tmp_path / "run")
    assert resumed.returncode == 0, resumed.stderr
    assert "saved on 1 process(es) and goes on with 2" in resumed.stdout
    assert max_difference(weights(tmp_path / "run"), weights(tmp_path / "whole")) <= 1e-6


FAIL_ON_RANK_1 = """
import os, sys, time
import graphgrad.train.trainer as t
from graphgrad.distributed.comm import current
_step = t.Trainer._restart_rank_streams
def step(self):
    if current().rank == 1 and self.step == 5:
        open(os.environ["FAILED_AT"], "w").write(repr(time.time()))
        {action}
    _step(self)
t.Trainer._restart_rank_streams = step
"""


@pytest.mark.parametrize("action, line, code", [
    ("raise ValueError('boom on purpose')",
     "graphgrad: rank 1 of 2: ValueError: boom on purpose; stopping all ranks", 1),
    ("sys.exit(3)", "graphgrad: rank 1 of 2: exited with status 3; stopping all ranks", 3),
])
def test_a_failing_rank_ends_the_whole_job_within_seconds(tmp_path: Path, action: str, line: str, code: int) -> None:
    failed_at = tmp_path / "failed_at"
    proc = mpi_gg("train", *QUICK, "--epochs", "50", "--out", tmp_path / "run",
                  patch=FAIL_ON_RANK_1.format(action=action), timeout=120, extra_env={"FAILED_AT": str(failed_at)})
    assert time.time() - float(failed_at.read_text()) < 10  # rank 0 waited in an Allreduce; it was ended
    assert proc.returncode == code
    assert line in proc.stderr.splitlines()
    assert ("Traceback" in proc.stderr) == (code == 1)  # a bug shows where it happened


RANK_1_MISSES_A_FILE = """
import graphgrad.train.experiment as ex
from graphgrad.distributed.comm import current
_prepare = ex.prepare_data
def prepare(config):
    if current().rank == 1:
        raise FileNotFoundError(2, 'No such file', '/only/on/node1.csv')
    return _prepare(config)
ex.prepare_data = prepare
"""


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--data", "missing.csv"], ["--bogus"],
                                  ["--lr", "1e30", "--optimizer", "sgd"]])
def test_a_users_mistake_exits_2_with_the_line_of_one_process_printed_once(tmp_path: Path, args: list[str]) -> None:
    command = ["train", *QUICK, "--epochs", "2", *args, "--out", tmp_path / "run"]
    single = gg(*command, cwd=tmp_path)
    assert single.code == 2 and len(single.err.splitlines()) == 1, single.err
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
    proc = mpi_gg(*command, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == single.err


def test_a_file_missing_on_one_rank_names_that_rank_once(tmp_path: Path) -> None:
    proc = mpi_gg("train", *QUICK, "--epochs", "2", "--out", tmp_path / "run", patch=RANK_1_MISSES_A_FILE)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "graphgrad: error: rank 1 of 2: file not found: /only/on/node1.csv\n"


def test_one_process_never_starts_mpi(tmp_path: Path) -> None:
    # Without a launcher, train does not even import mpi4py (joining MPI costs time and can fail).
    patch = "import atexit, sys\natexit.register(lambda: print('mpi4py' in sys.modules))\n"
    r = gg("train", *QUICK, "--epochs", "1", "--out", tmp_path / "run", patch=patch)
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1] == "False"
