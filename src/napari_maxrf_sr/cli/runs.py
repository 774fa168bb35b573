"""``maxrf-sr run`` and ``maxrf-sr apply``: from files to a super-resolved element stack.

Everything that can be checked is checked before training (the outputs, the inputs,
the element names a TIFF must store); what still fails after it keeps the result
(:mod:`.outputs`). What the readers noted (skipped files, assumptions) is printed.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

from ..core.control import format_mmss
from ..errors import CheckpointError, InputError, RunInterrupted
from ..io.omezarr import is_ome_zarr_name
from ..method_names import NETWORK
from .outputs import (
    apply_to_pyramid,
    check_outputs,
    checkpoint_path,
    keep_somewhere,
    pyramid_requested,
    raise_problems,
    write_or_keep,
    write_pyramid,
)
from .progress import ProgressBar

#: The notes printed by this command so far (each is printed once).
_SAID: set[str] = set()


def note(text: str) -> None:
    """Print a note for the user on stderr, once (a reader and the run may note the same)."""
    if text not in _SAID:
        _SAID.add(text)
        print(f"note: {text}", file=sys.stderr)


def forget_notes() -> None:
    """A new command starts: no note said yet."""
    _SAID.clear()


def resume_command(argv: list[str]) -> str:
    """The command that continues an interrupted run: the same one, with ``--resume``."""
    args = list(argv) if "--resume" in argv else [*argv, "--resume"]
    return "maxrf-sr " + shlex.join(args)


def _path(value) -> Path | None:
    return None if value is None else Path(value)


def read_inputs(args, scale=None, *, network: bool = False, pyramid: bool = False,
                strict: bool = True) -> tuple:
    """The maps (with their names) and the photo, and every note the readers made.

    ``scale``: the whole number the photo must be of the maps (``None``: any). Before
    anything is decoded, the sizes the files declare are checked: the photo must fit the
    maps (unless ``strict`` is ``False``: the photo is to be registered to the maps),
    and the work must fit in the free memory (``network``, ``pyramid``: whether the
    result is computed by the network, and into a pyramid, tile by tile).
    """
    import numpy as np

    from ..core.photo_pixels import MAX_HR_PIXELS
    from ..core.validation import MAX_MAP_VALUES, check_sizes_fit
    from ..io import read_element_maps, read_photo
    from ..io.shapes import maps_shape, photo_shape
    from ..io.sidecar import rpl_options
    from ..io.writers import check_stack_names
    from ..registration.auto import may_register

    xrf = Path(args.xrf)
    options = rpl_options(xrf) if xrf.suffix.lower() == ".rpl" else {}
    if getattr(args, "dataset", None):
        options["dataset"] = args.dataset
    declared, hw = maps_shape(xrf, **options), photo_shape(args.rgb)
    if (declared is not None and hw is not None and hw[0] * hw[1] <= MAX_HR_PIXELS
            and int(np.prod(declared, dtype=object)) <= MAX_MAP_VALUES):
        # a photo that does not fit is refused now, before gigabytes of maps are decoded
        # (sizes beyond the limits are left to the readers, which say so first)
        if strict or not may_register(declared, hw):
            check_sizes_fit(declared, hw, scale)
        _check_memory(args, declared, hw, network, pyramid)
    maps, elements, meta = read_element_maps(xrf, **options)
    if getattr(args, "elements", None):
        elements = tuple(e.strip() for e in args.elements.split(","))
    check_stack_names(elements)  # before training: a TIFF must be able to store them
    photo, photo_notes = read_photo(args.rgb)
    notes = [*meta.notes, *photo_notes]
    for text in notes:
        note(text)
    args.read_elements = tuple(elements)
    return maps, tuple(elements), photo, notes


def _check_memory(args, declared, hw, network: bool, pyramid: bool) -> None:
    """Refuse now a run whose declared sizes need more memory than is free."""
    from ..io import large
    from ..io.shapes import photo_nbytes

    b, h, w = (int(n) for n in declared)
    result = large.result_nbytes(b, *hw)
    banded = network and (pyramid or result > large.IN_MEMORY_LIMIT)
    large.check_memory_for(
        {"the photo as decoded": 2 * photo_nbytes(args.rgb, hw),
         "the maps": 3 * 4 * b * h * w, "the result": 0 if banded else 2 * result},
        "Work on a crop of the painting (the photo and the scan cut to the same area), "
        "close other programs" + ("" if pyramid else ", or write an OME-Zarr pyramid "
                                  "(--out NAME.ome.zarr), which the network computes tile "
                                  "by tile") + ".")


def _timestamp() -> str:
    from ..provenance import timestamp

    return timestamp()


def provenance(args, made_by: str, maps, photo, *, diag=None, notes=(), extra=None) -> dict:
    """The output's provenance record (see :mod:`napari_maxrf_sr.provenance`).

    A run's record comes from the API (``diagnostics["provenance"]``, with the training's
    start and end); the command line adds its command, the input files (absolute paths)
    and the readers' notes, and for ``apply`` the times of its work.
    """
    from ..provenance import build_provenance, command_line, describe_array, timestamp

    diag = diag or {}
    record = dict(diag.get("provenance") or build_provenance(
        made_by=made_by, method=diag.get("method"), elements=diag.get("elements", ()),
        scale=diag.get("scale"), inputs={"maps": describe_array(maps)},
        photo=describe_array(photo), settings=diag.get("config"),
        output_shape=(maps.shape[0], *photo.shape[:2]),
        started=getattr(args, "started", ""), finished=timestamp()))
    record.update(made_by=made_by, command=command_line(),
                  inputs={"xrf": {**record["inputs"].get("maps", {}),
                                  "path": os.path.abspath(args.xrf)}},
                  photo={**(record.get("photo") or {}), "path": os.path.abspath(args.rgb)},
                  notes=[*notes, *record.get("notes", ())], **(extra or {}))
    return record


def _checkpoint_plan(args, out: Path):
    """The run's checkpoint plan (``None`` for baselines or ``--checkpoint-every 0``)."""
    from ..core.checkpoint import CheckpointPlan

    if args.method != NETWORK or (args.checkpoint_every <= 0 and not args.resume):
        if args.resume:
            raise InputError("--resume only applies to the network (--method network).")
        return None
    path = checkpoint_path(out)
    if args.resume and not path.is_file():
        raise FileNotFoundError(
            f"There is no checkpoint at {str(path)!r} to resume: it is written next to the "
            "output while a run trains and removed when the run finishes. Run the same "
            "command without --resume to start again."
        )
    if path.exists() and not args.resume and not args.force:
        raise FileExistsError(
            f"An interrupted run left a checkpoint at {str(path)!r}. Add --resume to the same "
            "command to continue it, or --force to start again and replace it."
        )
    every = args.checkpoint_every if args.checkpoint_every > 0 else float("inf")
    return CheckpointPlan(path, every_seconds=every, resume=args.resume,
                          interrupt=getattr(args, "interrupt", None))


def _photo_on_grid(args, maps, photo):
    """The photo on the maps' grid (registered or checked), its scale and the record.

    Done here rather than inside the API call so that the aligned photo is also the one
    the maps are written with when they are written band by band from the model.
    """
    from ..registration.auto import photo_on_grid

    if not args.no_align:
        print("checking that the photo lies on the maps' grid (registering it if not)",
              file=sys.stderr)
    on_grid = photo_on_grid(maps, photo, args.scale, align=not args.no_align)
    for text in on_grid.notes:
        note(text)
    return on_grid.photo, on_grid.scale, on_grid.record


def _train(args, maps, elements, photo, plan, pyramid: bool, scale=None):
    from ..api import super_resolve

    try:
        return super_resolve(
            maps, photo, scale, args.method, elements=elements, preset=args.preset,
            align=False,
            config=dict(args.settings) or None, seed=args.seed,
            max_seconds=args.max_seconds, device=args.device,
            negative="clip" if args.clip_negative else "error",
            callback=None if args.quiet else ProgressBar(), checkpoint=plan,
            infer=not (args.method == NETWORK and (pyramid or too_big_for_memory(maps, photo))),
        )
    except (CheckpointError, RunInterrupted):
        raise  # a checkpoint that cannot be resumed; or one just saved (main says how)
    except BaseException:
        if plan is not None and plan.path.is_file():
            print(f"\nthe run's last checkpoint is {plan.path}; to continue from there, "
                  f"run:\n  {resume_command(getattr(args, 'argv', []))}", file=sys.stderr)
        raise


def cmd_run(args) -> int:
    """``maxrf-sr run``: train on one painting and write the super-resolved maps."""
    from ..core.checkpoint import read_checkpoint_info, remove_checkpoint

    args.started = _timestamp()
    if args.settings and args.method != NETWORK:
        raise InputError(
            f"--set changes the network's settings, and the method {args.method!r} has none: "
            "leave --set out, or run the network (--method network)."
        )
    out, model_path = Path(args.out), _path(args.save_model)
    ckpt = checkpoint_path(out) if args.method == NETWORK else None
    check_outputs({"--out": out, "--save-model": model_path, "the checkpoint": ckpt},
                  {"--xrf": Path(args.xrf), "--rgb": Path(args.rgb)}, args.force,
                  replaced=("the checkpoint",))
    pyramid = pyramid_requested(out, args)
    plan = _checkpoint_plan(args, out)
    if plan is not None and plan.resume:
        info = read_checkpoint_info(plan.path)
        print(f"resuming from {plan.path}: step {info['step']} of {info['planned_steps']}, "
              f"{format_mmss(info['elapsed'])} of training already done", file=sys.stderr)
    maps, elements, photo, notes = read_inputs(args, args.scale, network=args.method == NETWORK,
                                               pyramid=pyramid, strict=args.no_align)
    print(f"read {maps.shape[0]} maps of {maps.shape[1]} x {maps.shape[2]} px "
          f"({', '.join(elements)}) and a {photo.shape[0]} x {photo.shape[1]} photo",
          file=sys.stderr)
    photo, scale, registration = _photo_on_grid(args, maps, photo)
    result = _train(args, maps, elements, photo, plan, pyramid, scale)
    diag = result.diagnostics
    record = provenance(args, "maxrf-sr run", maps, photo, diag=diag, notes=notes,
                        extra=None if registration is None else {"registration": registration})
    problems: list[str] = []
    _write_maps(args, result.maps, diag, maps, photo, elements, record, problems)
    if model_path is not None:
        _write_model(diag, model_path, args.force, problems)
    for text in diag.get("notes", ()):
        note(text)
    if problems and plan is not None and plan.path.is_file():
        problems.append(f"The checkpoint {str(plan.path)!r} was kept.")
    raise_problems(problems)
    if plan is not None:
        remove_checkpoint(plan.path)  # the outputs are written: nothing left to resume
    print(f"{diag['method']} on {diag['device']} took {diag['seconds']:.1f} s", file=sys.stderr)
    print(str(out.resolve()))
    return 0


def _advice(args) -> str:
    """What to do when a result does not agree with the scan."""
    if getattr(args, "model", None):
        return (f"The model {str(args.model)!r} is damaged or does not fit these maps: train "
                "a new one (maxrf-sr run ... --save-model).")
    if args.method == NETWORK:
        return ("The trained network gives nonsense: run the same command again (with "
                "--force instead of --resume if it resumed a checkpoint, which may be "
                "damaged), or compare with --method bicubic_projected.")
    return "This method failed on these maps: choose another one (maxrf-sr methods)."


def agreement_check(args, maps, scale: int, names, model=None):
    """A function that refuses a result not agreeing with ``maps`` (see :mod:`..io.agreement`).

    ``names``: the result's maps in their order (the model's, for results written from a
    model). ``None`` for plain bicubic, which does not agree with the scan by design, and
    for a model with a beam (its blocks overlap).
    """
    import numpy as np

    from ..io.agreement import check_agreement

    if getattr(args, "method", NETWORK) == "bicubic" or (
            model is not None and not model.operator.is_block):
        return None
    lr = np.clip(maps, 0, None) if getattr(args, "clip_negative", False) else maps
    given = [str(e) for e in args_elements(args, maps)]
    if list(names) != given and sorted(names) == sorted(given):
        lr = lr[[given.index(n) for n in names]]  # the model's order
    return lambda sr: check_agreement(sr, lr, scale, list(names), advice=_advice(args))


def args_elements(args, maps):
    """The maps' names as this command read them (kept on ``args`` by :func:`read_inputs`)."""
    return getattr(args, "read_elements", None) or [f"map {i + 1}" for i in range(len(maps))]


def _write_maps(args, sr, diag, maps, photo, elements, record, problems) -> None:
    from ..io import write_element_stack

    out = Path(args.out)
    negative = "clip" if args.clip_negative else "error"
    model = diag.get("model")
    if sr is None:  # from the model, tile by tile: a pyramid (maybe a cluster) or a TIFF
        write = apply_to_pyramid if is_ome_zarr_name(out) else apply_to_disk
        check = agreement_check(args, maps, diag["scale"], model.elements, model)
        write_or_keep("the super-resolved maps", out,
                      lambda: write(model, maps, photo, out, elements, args, record, negative,
                                    verify=check),
                      lambda: _keep_model(out, model), problems, kept_as=_model_kept)
        return
    check = agreement_check(args, maps, diag["scale"], elements)
    if check is not None:
        check(sr)  # before anything is written
    scale = diag["scale"]

    def keep():
        safe = [e.encode("ascii", "backslashreplace").decode() for e in elements]
        return keep_somewhere(out, ".tif", lambda p: write_element_stack(
            p, sr, safe, scale=scale, role="sr_map", provenance=record))

    if is_ome_zarr_name(out):  # a baseline's maps, already in memory
        write_or_keep("the super-resolved maps", out,
                      lambda: write_pyramid(out, sr, elements, scale, args.force, record),
                      keep, problems)
        return
    write_or_keep("the super-resolved maps", out, lambda: write_element_stack(
        out, sr, elements, scale=scale, role="sr_map", provenance=record,
        force=args.force), keep, problems)


def _keep_model(out: Path, model) -> Path | None:
    from ..core.modelio import save_model

    return keep_somewhere(out, ".pt", lambda p: save_model(model, p))


def _model_kept(kept: Path) -> str:
    return (f" The maps were not kept, but the trained network was, as {str(kept)!r}: "
            f"'maxrf-sr apply --model {kept} ...' (the same --xrf, --rgb and --out) writes "
            "the maps without training again.")


def _write_model(diag, path: Path, force: bool, problems) -> None:
    from ..core.modelio import save_model

    if "model" not in diag:
        note("--save-model ignored: only the network has a model to save")
        return
    if write_or_keep("the model", path, lambda: save_model(diag["model"], path, force=force),
                     lambda: keep_somewhere(path, ".pt",
                                            lambda p: save_model(diag["model"], p)), problems):
        print(f"model written to {path}", file=sys.stderr)


def too_big_for_memory(maps, photo) -> bool:
    """Whether the result is written to disk band by band instead of held in memory."""
    from ..io import large

    return large.result_nbytes(maps.shape[0], *photo.shape[:2]) > large.IN_MEMORY_LIMIT


def apply_to_disk(model, maps, photo, out: Path, elements, args, record: dict,
                  negative: str = "error", device: str = "cpu", verify=None) -> None:
    """Write a result bigger than memory straight into the output file, band by band.

    ``verify`` checks the maps before the file gets its name.
    """
    from ..core.trained_model import apply_model
    from ..io.large import element_stack_on_disk, result_nbytes

    shape = (maps.shape[0], *photo.shape[:2])
    print(f"the result ({result_nbytes(*shape) / 2**30:.1f} GiB) is written to the output "
          "file band by band instead of being held in memory", file=sys.stderr)
    # Maps given in another order than the model's come out in the model's order.
    names = list(model.elements) if sorted(elements) == sorted(model.elements) else elements
    t0 = time.perf_counter()
    with element_stack_on_disk(out, shape, names, scale=getattr(args, "scale", None)
                               or model.scale, role="sr_map", provenance=record,
                               force=args.force) as mm:
        apply_model(model, maps, photo, scale=model.scale, device=args.device or device,
                    negative=negative, elements=elements, out=mm)
        if verify is not None:
            verify(mm)
    print(f"inference took {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def cmd_apply(args) -> int:
    """``maxrf-sr apply``: apply a saved model to (new) maps and a photo."""
    from ..core.modelio import load_model
    from ..core.trained_model import apply_model
    from ..io import write_element_stack

    args.started = _timestamp()
    out = Path(args.out)
    check_outputs({"--out": out}, {"--xrf": Path(args.xrf), "--rgb": Path(args.rgb),
                                   "--model": Path(args.model)}, args.force)
    pyramid = pyramid_requested(out, args)
    model = load_model(args.model).answering_with(**dict(args.settings))
    maps, elements, photo, notes = read_inputs(args, model.scale, network=True,
                                               pyramid=pyramid)
    diag = {"method": NETWORK, "elements": elements, "scale": model.scale,
            "config": model.config.to_dict()}
    record = provenance(args, "maxrf-sr apply", maps, photo, diag=diag, notes=notes,
                        extra={"model": os.path.abspath(args.model)})
    problems: list[str] = []
    in_model_order = agreement_check(args, maps, model.scale, model.elements, model)
    if pyramid:  # nothing to keep when it fails: the computing is the writing
        apply_to_pyramid(model, maps, photo, out, elements, args, record,
                         verify=in_model_order)
    elif too_big_for_memory(maps, photo):
        write_or_keep("the super-resolved maps", out,
                      lambda: apply_to_disk(model, maps, photo, out, elements, args, record,
                                            verify=in_model_order),
                      lambda: None, problems)
    else:
        sr = apply_model(model, maps, photo, device=args.device or "cpu", elements=elements)
        check = agreement_check(args, maps, model.scale, elements, model)
        if check is not None:
            check(sr)  # before anything is written
        write_or_keep("the super-resolved maps", out, lambda: write_element_stack(
            out, sr, elements, scale=model.scale, role="sr_map", provenance=record,
            force=args.force), lambda: keep_somewhere(out, ".tif", lambda p: write_element_stack(
                p, sr, [e.encode("ascii", "backslashreplace").decode() for e in elements],
                scale=model.scale, role="sr_map", provenance=record)), problems)
    raise_problems(problems)
    print(str(out.resolve()))
    return 0
