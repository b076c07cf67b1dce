"""The function CrossHair analyses for one cell (prototype)."""

from __future__ import annotations

from dataclasses import dataclass

from checks.exhaustive import wait_endings
from checks.harness import CellInput, run_cell
from checks.profiles import Bounds
from model.kernel import KernelImage
from model.users import User


@dataclass(frozen=True)
class Cell:
    image: KernelImage
    user: User
    proto: str
    sabotage: str | None
    max_segs: int
    max_seg_len: int
    max_windows: int
    max_room: int
    endings: tuple[str, ...]
    modes: tuple[str, ...]


def cell_of(image, user, proto, bounds: Bounds, sabotage=None) -> Cell:
    return Cell(image, user, proto, sabotage, min(bounds.max_segs, user.max_segs or bounds.max_segs),
                bounds.max_seg_len, bounds.max_windows, bounds.max_room, wait_endings(user), user.modes)


def harness_for(cell: Cell, runs: list[int]):
    def cell_contract(segs: list[int], rooms: list[int], endings: list[int], mode: int) -> str | None:
        """
        pre: 1 <= len(segs) <= cell.max_segs
        pre: all(0 <= n <= cell.max_seg_len for n in segs)
        pre: len(rooms) <= cell.max_windows
        pre: len(endings) == len(rooms)
        pre: all(0 <= r <= cell.max_room for r in rooms)
        pre: all(0 <= t < len(cell.endings) for t in endings)
        pre: 0 <= mode < len(cell.modes)
        post: __return__ is None
        """
        runs[0] += 1
        inp = CellInput(tuple(segs), tuple((r, cell.endings[t]) for r, t in zip(rooms, endings, strict=True)),
                        cell.modes[mode])
        return run_cell(cell.image, cell.user, cell.proto, inp, cell.sabotage).failure

    return cell_contract
