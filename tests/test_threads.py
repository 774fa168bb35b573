"""The CPU thread count of a training run: the cores that are free, fixed and recorded."""

from __future__ import annotations

import pytest
import torch

from napari_maxrf_sr.api import run_to_end
from napari_maxrf_sr.core import threads
from napari_maxrf_sr.core.config import config_from_preset
from napari_maxrf_sr.core.threads import THREADS_ENV, choose_cpu_threads
from napari_maxrf_sr.core.train import train


def test_free_cores_are_taken(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    assert choose_cpu_threads(busy=0.0) == threads.MAX_AUTO_THREADS  # capped
    assert choose_cpu_threads(busy=5.2) == 3  # 2.8 cores free
    assert choose_cpu_threads(busy=7.9) == 1  # never fewer than one
    assert choose_cpu_threads(busy=5.2, reserve=1) == 2  # napari keeps a core
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    assert choose_cpu_threads(busy=0.0) == 2
    assert choose_cpu_threads(busy=1.0) == 1
    assert choose_cpu_threads(busy=0.0, reserve=1) == 1


def test_a_set_count_wins(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "3")
    assert choose_cpu_threads(busy=100.0) == 3
    assert choose_cpu_threads(requested=5, busy=0.0) == 5
    monkeypatch.setenv(THREADS_ENV, "not a number")
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    assert choose_cpu_threads(busy=3.0) == 1


def test_busy_cores_is_a_measurement():
    value = threads.busy_cores(0.05)
    assert 0.0 <= value <= 4 * (threads.usable_cores() + 8)


@pytest.mark.slow
def test_a_run_records_its_thread_count_and_restores_torch(toy, monkeypatch):
    _, lr, rgb = toy
    monkeypatch.setenv(THREADS_ENV, "1")
    torch.set_num_threads(2)
    cfg = config_from_preset("fast", stage1_steps=5, stage2_steps=0, device="cpu")
    seen = []
    result = run_to_end(train(lr, rgb, cfg), lambda e: seen.append(torch.get_num_threads()))
    assert result.config.cpu_threads == 1 and result.diagnostics["cpu_threads"] == 1
    assert set(seen) == {1}  # the whole run, not only its start
    assert torch.get_num_threads() == 2  # given back


def test_device_description_counts_threads_in_plain_words():
    from napari_maxrf_sr.core.device import describe_device

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert describe_device(torch.device("cpu")) == "CPU (1 thread)"
        torch.set_num_threads(2)
        assert describe_device(torch.device("cpu")) == "CPU (2 threads)"
    finally:
        torch.set_num_threads(before)
