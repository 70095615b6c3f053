"""Benchmark scripts that the test run keeps working (they print; timings
are not asserted)."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"),
    ),
]


def _run(script, args, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(sys, "argv", [script, *args])
    threads = torch.get_num_threads()
    try:
        runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    finally:
        torch.set_num_threads(threads)
    return capsys.readouterr().out


@pytest.mark.parametrize("device", DEVICES)
def test_gpu_speed_runs_end_to_end(device, monkeypatch, capsys):
    out = _run("gpu_speed.py", ["--quick", "--device", device], monkeypatch, capsys)
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("| run |"))
    rows = [line for line in lines if line.startswith("| 784-")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| 784-300-100-10, batch 200",
        "| 784-1024-1024-10, batch 2048",
    ]
    column = header.split(" | ").index("CUDA-graph loop")
    assert all(len(row.split(" | ")) == len(header.split(" | ")) for row in rows)
    graph_cells = [row.split(" | ")[column] for row in rows]
    if device == "cpu":
        assert graph_cells == ["not available (no CUDA)"] * 2
        assert "(not a GPU run: goals not assessed)" in out
    else:
        assert all("not available" not in cell for cell in graph_cells)
        assert out.count("largest parameter difference") == 2
        assert "MISMATCH" not in out
    assert "compensated scoring, 2048 rows, 784-1024-1024-10:" in out
    assert out.startswith("machine: ")


def test_loss_readback_runs_end_to_end(monkeypatch, capsys):
    out = _run("loss_readback.py", ["--repeat", "1"], monkeypatch, capsys)
    rows = [line.split(" | ")[0] for line in out.splitlines()]
    assert "| adam" in rows and "| sgd" in rows


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_the_gpu_check_refuses_to_run_without_cuda(tmp_path):
    script = Path(__file__).resolve().parents[1] / "tools" / "gpu_check.sh"
    done = subprocess.run(
        ["bash", str(script), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        },
    )
    assert done.returncode == 1
    assert "no CUDA device" in done.stderr
    assert not (tmp_path / "out" / "cuda_tests.txt").exists()
