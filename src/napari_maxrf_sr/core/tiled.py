"""Inference as a dask graph over tiles, on this computer or on a dask.distributed cluster.

A tile is a run of consecutive bands of :func:`~napari_maxrf_sr.core.inference.predict`
(the photo's full width, cut at the same rows) computed with the same functions, so the
maps equal ``predict``'s bit for bit whoever computes them. A tile's task gets only its
own rows of the scan (with the one-row halo the bilinear upsampling needs) and of the
photo (in its own pixel type), plus the trained model: the object itself here, or for a
cluster the bytes of a model file (:func:`~napari_maxrf_sr.core.modelio.save_model`),
loaded once per worker process. With the local calibration or the smooth correction
(:mod:`~napari_maxrf_sr.core.calibration`, :mod:`~napari_maxrf_sr.core.correction`)
each tile runs the network twice: a first task returns only block means (scan-sized),
one task turns them into what the second tasks need. Running the network again costs
time but keeps memory bounded: no tile's maps wait in memory for the others.

The scheduler is dask's: its local threads by default, or the ``dask.distributed``
scheduler whose address the user gives (:func:`computer`). On a cluster the workers
need this package (the same version) and the output folder at the same path.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import ClusterError
from .calibration import calibration_coefficients, photo_block_means
from .correction import correct_band, correction_source
from .inference import (
    band_block_means,
    band_rows,
    calibrate_band,
    lr_rows_with_halo,
    network_source,
    predict_band,
    with_halo_columns,
)
from .normalisation import MapNormaliser, PhotoNormaliser, photo_normaliser_for
from .photo_pixels import PhotoPixels, to_unit_float
from .trained_model import TrainedModel

#: Largest output of one tile (bytes of float32 maps): bounds each task's memory.
TILE_BYTES = 256 * 2**20
#: Most output rows per tile (they are also the height of the stored chunks).
TILE_MAX_ROWS = 1024

_MODELS: dict[str, TrainedModel] = {}
_MODELS_LOCK = threading.Lock()


def tile_lr_rows(config, scale: int, width: int, n_maps: int, *,
                 tile_bytes: int | None = None, max_rows: int | None = None) -> int:
    """Scan rows per tile: whole bands, within ``tile_bytes`` and ``max_rows`` (defaults above)."""
    tile_bytes = tile_bytes or TILE_BYTES
    max_rows = max_rows or TILE_MAX_ROWS
    band = band_rows(config, scale, width)
    band_bytes = 4 * n_maps * scale * band * width
    k = max(1, min(tile_bytes // band_bytes, max_rows // (scale * band)))
    return int(k * band)


def _model(model: TrainedModel | bytes) -> TrainedModel:
    """The model itself, or one loaded from bytes (once per worker process)."""
    if not isinstance(model, bytes | bytearray):
        return model
    key = hashlib.sha256(model).hexdigest()
    with _MODELS_LOCK:
        if key not in _MODELS:
            from .modelio import model_from_bytes

            _MODELS.clear()  # one model at a time: a long-lived worker does not pile them up
            _MODELS[key] = model_from_bytes(bytes(model), "the model sent by the client")
        return _MODELS[key]


def predict_tile(model: TrainedModel | bytes, normaliser: MapNormaliser,
                 photo_normaliser: PhotoNormaliser, source_rows: np.ndarray,
                 lr_rows: np.ndarray, photo_rows: np.ndarray, unit: float, band: int,
                 project: bool, coefficient_rows: tuple | None = None,
                 block_means: bool = False, correction_rows: np.ndarray | None = None
                 ) -> np.ndarray:
    """One tile: ``(B, s n, W)`` float32 maps for ``n`` scan rows, band by band.

    Parameters
    ----------
    model
        The trained model, or the bytes of its model file.
    normaliser
        Normalisation of the scan being super-resolved.
    photo_normaliser
        Normalisation of the photo (fitted once on the whole photo, or the model's).
    source_rows
        ``(B, n + 2, w)`` rows of the network's source
        (:func:`~napari_maxrf_sr.core.inference.network_source`) with one row of halo
        each side.
    lr_rows
        ``(B, n, w)`` scan rows in input units (for the projection).
    photo_rows
        ``(s n, W, 3)`` photo rows in the photo's pixel type; ``unit`` is full intensity.
    band
        Scan rows per band (:func:`~napari_maxrf_sr.core.inference.band_rows`).
    project
        Apply the block projection (the final answer).
    coefficient_rows
        ``(gain, offset)``, each ``(B, n + 2, w)``: the tile's rows of the local
        calibration's coefficients with one row of halo each side; ``None``: no
        calibration.
    block_means
        Return only the block means of the uncalibrated, unprojected maps and, below
        them, the photo's (for the noise estimate): ``(B + 3, n, w)`` float64 (the
        first pass of the calibration or of the smooth correction).
    correction_rows
        ``(B, n + 2, w)`` the tile's rows of the smooth correction's source
        (:func:`~napari_maxrf_sr.core.correction.correction_source`) with one row of halo
        each side, added before the projection; ``None``: the block projection alone.
    """
    m = _model(model)
    op = m.operator
    s = op.scale
    n_maps, n_rows, w = lr_rows.shape
    if block_means:
        out = np.empty((n_maps + 3, n_rows, w), dtype=np.float64)
    else:
        out = np.empty((n_maps, s * n_rows, s * w), dtype=np.float32)
    for r0 in range(0, n_rows, band):
        r1 = min(n_rows, r0 + band)
        photo_band = to_unit_float(photo_rows[s * r0 : s * r1], unit)
        raw = predict_band(
            m.generator.cpu().eval(), normaliser, source_rows[:, r0 : r1 + 2],
            lr_rows[:, r0:r1], photo_band, op,
            photo_normaliser, project=(project and coefficient_rows is None
                                       and correction_rows is None and not block_means),
        )
        if block_means:
            out[:n_maps, r0:r1] = band_block_means(raw, op)
            out[n_maps:, r0:r1] = photo_block_means(photo_band, s)
            continue
        if coefficient_rows is not None:
            gain, offset = coefficient_rows
            raw = calibrate_band(raw, gain[:, r0 : r1 + 2], offset[:, r0 : r1 + 2],
                                 lr_rows[:, r0:r1], op,
                                 project=project and correction_rows is None)
        if correction_rows is not None and project:
            raw = correct_band(raw, with_halo_columns(correction_rows[:, r0 : r1 + 2]),
                               lr_rows[:, r0:r1], op)
        out[:, s * r0 : s * r1] = raw
    return out


def _coefficients(lr_maps: np.ndarray, radius: int, *means: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The calibration's coefficients from the tiles' first passes, in row order."""
    both = np.concatenate(means, axis=1)
    n_maps = lr_maps.shape[0]
    return calibration_coefficients(both[:n_maps], lr_maps, radius, both[n_maps:])


def _correction(lr_maps: np.ndarray, coefficients: tuple | None, scale: int,
                *means: np.ndarray) -> np.ndarray:
    """The smooth correction's source from the tiles' first passes, in row order."""
    g = np.concatenate(means, axis=1)[: lr_maps.shape[0]]
    return correction_source(lr_maps, g, coefficients, scale)


def _tile_rows(arrays: tuple[np.ndarray, ...] | np.ndarray, r0: int, r1: int):
    """A tile's rows of an LR array (or of each), with one row of halo each side."""
    if isinstance(arrays, np.ndarray):
        return lr_rows_with_halo(arrays, r0, r1)
    return tuple(lr_rows_with_halo(c, r0, r1) for c in arrays)


def tiled_prediction(model: TrainedModel, normaliser: MapNormaliser, lr_maps: np.ndarray,
                     photo, *, project: bool = True, ship_model: bool = False):
    """The super-resolved maps as a lazy ``(B, H, W)`` dask array, one chunk per tile.

    Parameters
    ----------
    model, normaliser
        Trained model and the normalisation of ``lr_maps``
        (:func:`~napari_maxrf_sr.core.trained_model.prepare_for_model`).
    lr_maps
        ``(B, h, w)`` validated scan in the model's element order.
    photo
        :class:`~napari_maxrf_sr.core.photo_pixels.PhotoPixels` (or a float array in ``[0, 1]``).
    project
        Project onto the scan (block operator: per tile, exactly as ``predict``).
    ship_model
        Put the model in the graph as file bytes (for workers in other processes).
    """
    import dask
    import dask.array as da

    op = model.operator
    if project and not op.is_block:
        raise ValueError("tiled inference projects per tile: the block operator only")
    s = op.scale
    n, h, w = lr_maps.shape
    raw, unit = (photo.raw, photo.unit) if isinstance(photo, PhotoPixels) else (
        np.asarray(photo, dtype=np.float32), 1.0)
    rows = tile_lr_rows(model.config, s, s * w, n)
    band = band_rows(model.config, s, s * w)
    # Both normalisations are global (the consistent source solves along whole rows and
    # columns; whitening fits the whole photo): computed once here, LR-sized or 3 x 3.
    source = network_source(normaliser, lr_maps, model.config, s)
    photo_norm = model.photo_normaliser or photo_normaliser_for(model.config, photo)
    token = uuid.uuid4().hex
    payload: Any = model
    if ship_model:
        from .modelio import model_to_bytes

        payload = model_to_bytes(model)
    model_key = dask.delayed(payload, name=f"maxrf-model-{token}", traverse=False)
    task = dask.delayed(predict_tile, pure=True, traverse=False)
    starts = list(range(0, h, rows))

    def tile_args(r0: int) -> tuple:
        r1 = min(h, r0 + rows)
        return (model_key, normaliser, photo_norm, lr_rows_with_halo(source, r0, r1),
                np.ascontiguousarray(lr_maps[:, r0:r1]), raw[s * r0 : s * r1], unit, band,
                project)

    coefficients = correction = None
    radius = model.config.calibration_radius
    smooth = project and model.config.correction == "smooth"
    if radius > 0 or smooth:
        # First pass of every tile: block means only (scan-sized), for the passes after.
        means = [task(*tile_args(r0), block_means=True,
                      dask_key_name=f"maxrf-means-{token}-{i}") for i, r0 in enumerate(starts)]
    if radius > 0:
        coefficients = dask.delayed(_coefficients, pure=True, traverse=False)(
            lr_maps, radius, *means, dask_key_name=f"maxrf-calibration-{token}")
    if smooth:
        correction = dask.delayed(_correction, pure=True, traverse=False)(
            lr_maps, coefficients, s, *means, dask_key_name=f"maxrf-correction-{token}")
    tiles = []
    for i, r0 in enumerate(starts):
        r1 = min(h, r0 + rows)
        rows_of = {name: None if whole is None else dask.delayed(
            _tile_rows, pure=True, traverse=False)(
                whole, r0, r1, dask_key_name=f"maxrf-{name}-{token}-{i}")
            for name, whole in (("coefficient_rows", coefficients),
                                ("correction_rows", correction))}
        d = task(*tile_args(r0), **rows_of, dask_key_name=f"maxrf-tile-{token}-{i}")
        tiles.append(da.from_delayed(d, shape=(n, s * (r1 - r0), s * w), dtype=np.float32))
    return da.concatenate(tiles, axis=1)


# --------------------------------------------------------------------------- schedulers


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "Running on a dask cluster needs dask.distributed, which is not installed: "
            "pip install 'napari-maxrf-sr[cluster]'  (or: pip install distributed)."
        ) from exc
    return distributed


@contextlib.contextmanager
def computer(scheduler: str | None = None, *, timeout: float = 30.0
             ) -> Iterator[Callable[[list], Any]]:
    """A function that computes a list of dask objects, on the chosen scheduler.

    Parameters
    ----------
    scheduler
        ``None`` (or ``"threads"``): dask's local threaded scheduler. Otherwise the
        address of a running ``dask.distributed`` scheduler, ``tcp://HOST:PORT``.
    timeout
        Seconds to wait for the scheduler and for its first worker.

    Raises
    ------
    RuntimeError
        When the scheduler cannot be reached, has no workers, or its workers lack this
        package; the message says what to do.
    """
    if scheduler in (None, "", "threads", "local"):
        yield compute_here
        return
    distributed = _import_distributed()
    try:
        client = distributed.Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"Cannot reach the dask scheduler at {scheduler!r} ({exc}). Check the address "
            "(tcp://HOST:PORT, printed when the scheduler starts) and that this computer "
            "can reach it; or leave --scheduler out to compute here."
        ) from None
    with client:
        check_workers(client, scheduler, timeout)
        yield lambda tasks: compute_on(client, tasks)


def compute_here(tasks: list, workers: int | None = None):
    """Compute on this computer's threads; after a failure, wait for the tasks in flight.

    So that none of them writes into the output folder after it was cleaned away.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    import dask

    pool = ThreadPoolExecutor(workers or os.cpu_count() or 1)
    try:
        return dask.compute(*tasks, scheduler="threads", pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def check_workers(client, scheduler: str, timeout: float) -> None:
    """Refuse a cluster without workers, or whose workers lack this package's version."""
    from .. import __version__

    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        raise ClusterError(
            f"The dask scheduler at {scheduler!r} has no workers. Start some "
            f"(dask worker {scheduler}), then run again."
        ) from None

    def version():  # defined here so that it travels by value, not by import
        try:
            from importlib.metadata import version as v

            return v("napari-maxrf-sr")
        except Exception:
            return None

    found = client.run(version)
    bad = {w: v for w, v in found.items() if v != __version__}
    if bad:
        shown = ", ".join(f"{w}: {v or 'not installed'}" for w, v in list(bad.items())[:3])
        raise ClusterError(
            f"The dask workers need napari-maxrf-sr {__version__}, as here ({shown}). "
            "Install the same version in the workers' environment."
        )


def _graph_keys(tasks: list) -> set[str]:
    import dask.base

    if hasattr(dask.base, "collections_to_expr"):  # dask >= 2025
        graph = dask.base.collections_to_expr(tasks).__dask_graph__()
    else:
        graph = dask.base.collections_to_dsk(tasks)
    return {str(k) for k in graph}


def _running_on_workers(client, keys: set[str]) -> int:
    """How many of our tasks the workers are still executing (cancelled or not)."""

    def count(dask_worker) -> int:  # runs on each worker; distributed passes the worker
        state = getattr(dask_worker, "state", None)
        running = [*getattr(state, "executing", ()), *getattr(state, "long_running", ())]
        return sum(1 for ts in running if str(ts.key) in keys or "maxrf-" in str(ts.key))

    try:
        return sum(client.run(count).values())
    except Exception:  # noqa: BLE001 - a worker that cannot answer is not writing for us
        return 0


def compute_on(client, tasks: list, *, settle_seconds: float = 60.0):
    """Compute on a cluster; a worker lost for good becomes a clear error.

    When the run fails, the tasks still running elsewhere are cancelled and waited
    for (up to ``settle_seconds``), so none writes into the output after it was cleaned.
    """
    import time

    keys = _graph_keys(tasks)
    futures = client.compute(tasks)
    try:
        return client.gather(futures)
    except BaseException as exc:
        client.cancel(futures)
        deadline = time.monotonic() + settle_seconds
        # The scheduler forgets cancelled tasks at once, but a worker thread that is
        # running one still finishes it and writes its chunk: ask the workers themselves.
        while time.monotonic() < deadline and _running_on_workers(client, keys):
            time.sleep(0.2)
        if type(exc).__name__ != "KilledWorker":
            raise
        raise ClusterError(
            "A dask worker died while computing part of the result, more often than the "
            f"scheduler retries ({exc}). Nothing was written under the output name. Check "
            "the workers' logs and memory limit, then run again."
        ) from None
