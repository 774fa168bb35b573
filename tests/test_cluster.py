"""Inference on a dask.distributed cluster: two worker processes on this machine.

The result must equal the local one bit for bit; a worker killed mid-run must either be
survived (the scheduler computes its tiles again) or end the run with a message and
nothing under the output's name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from napari_maxrf_sr.core import tiled
from napari_maxrf_sr.io.omezarr import open_ome_zarr
from napari_maxrf_sr.to_file import apply_to_file

from .test_tiled import random_model, scan_and_photo

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow


class KillOnce(distributed.WorkerPlugin):
    """Kill the worker process when it starts its ``after``-th tile (once per cluster)."""

    def __init__(self, marker: str, after: int = 2) -> None:
        self.marker = marker
        self.after = after
        self.started = 0

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "maxrf-tile" in str(key):
            self.started += 1
            if self.started >= self.after and not os.path.exists(self.marker):
                Path(self.marker).write_text(str(os.getpid()))
                os._exit(1)  # as if the machine had gone away: no clean-up at all


def _cluster(**config):
    import dask

    with dask.config.set(config):
        return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=40)


@pytest.fixture
def inputs(monkeypatch):
    # 2 scan rows per tile: 19 tiles to share between the workers
    monkeypatch.setattr(tiled, "TILE_BYTES", 4 * 3 * 4 * 116 * 8)
    lr, photo = scan_and_photo()
    return random_model(), lr, photo


def test_two_workers_give_the_local_result_bit_for_bit(inputs, tmp_path):
    model, lr, photo = inputs
    local = apply_to_file(model, lr, photo, tmp_path / "local.ome.zarr")
    with _cluster() as cluster:
        remote = apply_to_file(model, lr, photo, tmp_path / "cluster.ome.zarr",
                               scheduler=cluster.scheduler_address)
        with distributed.Client(cluster) as client:
            logs = client.run(lambda dask_worker: len(dask_worker.data) >= 0)
    assert len(logs) == 2
    a, _, _ = open_ome_zarr(local)
    b, elements, _ = open_ome_zarr(remote)
    assert elements == model.elements and len(a) == len(b)
    for la, lb in zip(a, b, strict=True):
        np.testing.assert_array_equal(la.compute(), lb.compute())


def test_a_killed_worker_is_survived_through_retries(inputs, tmp_path):
    model, lr, photo = inputs
    marker = tmp_path / "killed"
    local = apply_to_file(model, lr, photo, tmp_path / "local.ome.zarr")
    with _cluster() as cluster, distributed.Client(cluster) as client:
        client.register_plugin(KillOnce(str(marker)))
        out = apply_to_file(model, lr, photo, tmp_path / "sr.ome.zarr",
                            scheduler=cluster.scheduler_address)
    assert marker.is_file(), "no worker was killed: the test did not test anything"
    a, _, _ = open_ome_zarr(local)
    b, _, _ = open_ome_zarr(out)
    for la, lb in zip(a, b, strict=True):
        np.testing.assert_array_equal(la.compute(), lb.compute())


def test_a_killed_worker_without_retries_leaves_no_result(inputs, tmp_path):
    model, lr, photo = inputs
    marker = tmp_path / "killed"
    out = tmp_path / "sr.ome.zarr"
    with _cluster(**{"distributed.scheduler.allowed-failures": 0}) as cluster, \
            distributed.Client(cluster) as client:
        client.register_plugin(KillOnce(str(marker)))
        with pytest.raises(RuntimeError, match=r"A dask worker died .* Nothing was written"):
            apply_to_file(model, lr, photo, out, scheduler=cluster.scheduler_address)
    assert marker.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed"]  # no result, no temporary


def test_workers_without_the_package_are_refused(inputs, tmp_path, monkeypatch):
    model, lr, photo = inputs
    monkeypatch.setattr("napari_maxrf_sr.__version__", "0.0.test")
    with _cluster() as cluster:
        with pytest.raises(RuntimeError, match=r"workers need napari-maxrf-sr 0\.0\.test"):
            apply_to_file(model, lr, photo, tmp_path / "sr.ome.zarr",
                          scheduler=cluster.scheduler_address)
    assert list(tmp_path.iterdir()) == []
