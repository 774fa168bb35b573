"""The stage-1 held-out check, and the "learned nothing" guard of a finished run.

Held-out blocks of the one-scale-down problem, where the answer is known, are answered
by the network and by plain interpolation; both answers are projected onto that
problem's scan, as the final answer is. During stage 1 the network's error picks the
best state (:func:`held_out_loss`); at the end the comparison says whether the network
learned anything (:class:`~.events.QualityCheck`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .model import ListaGenerator
from .sampling import TrainingData
from .stage1 import down_answer


@dataclass(frozen=True)
class HeldOutCheck:
    """The network against plain interpolation on held-out blocks of the down problem.

    Both answers are projected onto the (known) scan of the down problem, as the final
    answer is, and compared with the known answer.
    """

    network_mse: float
    interpolation_mse: float

    @property
    def gain_db(self) -> float:
        """How much better the network is than interpolation, in dB (PSNR difference)."""
        return 10.0 * math.log10(max(self.interpolation_mse, 1e-30)
                                 / max(self.network_mse, 1e-30))


@torch.no_grad()
def held_out_check(model: ListaGenerator, data: TrainingData) -> HeldOutCheck | None:
    """Projected MSE of the network and of interpolation on the held-out blocks.

    ``None`` without a down problem (a scan too small for one).
    """
    if not data.has_down_problem or len(data.held_out_idx) == 0:
        return None
    x, y = data.down_held_out()
    b, ss = data.n_maps, data.s * data.s
    net_err = interp_err = 0.0
    # Whole held-out blocks at a time; photo pixels hold s^2 rows per down-problem pixel.
    step = ss * (4096 if data.down_colours == "mean" else max(1, 4096 // ss))
    for k in range(0, x.shape[0], step):
        xk, yk = x[k : k + step], y[k : k + step]
        target = yk.reshape(-1, ss, b)
        scan = target.mean(1, keepdim=True)  # the down problem's scan, known exactly
        if data.down_colours == "pixels":  # answered as in training: photo pixels averaged
            xp, _ = data.down_blocks_at(data.held_out_idx[k : k + step])
            net = down_answer(model(xp.reshape(-1, xp.shape[-1]))[:, :b], ss)
        else:
            net = model(xk)[:, :b]
        for answer, is_net in ((net, True), (xk[:, :b], False)):
            a = answer.reshape(-1, ss, b)
            if data.op.is_block:  # project onto the scan, as the final answer is
                a = a - a.mean(1, keepdim=True) + scan
            err = float(((a - target) ** 2).sum())
            if is_net:
                net_err += err
            else:
                interp_err += err
    n = y.numel()
    return HeldOutCheck(net_err / n, interp_err / n)


def held_out_loss(model: ListaGenerator, data: TrainingData) -> float | None:
    """Held-out MSE of the down problem (answer known), or ``None`` without one."""
    check = held_out_check(model, data)
    return None if check is None else check.network_mse
