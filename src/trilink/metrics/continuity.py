"""Track continuity: identity switches and breaks, from the truth-to-track assignment of each scan.

The input is a list over scans of ``{truth_id: track_id}``: the track assigned to each truth
at that scan (see :func:`assignments`, which uses the GOSPA assignment rule). A truth that
is not a key of a scan's dict is *unassigned* at that scan. For each truth, take the
sequence of its assigned tracks over the scans, with gaps where it is unassigned:

* **id switch**: a scan at which the truth is assigned a track different from the track it
  was most recently assigned (at any earlier scan, whether just before or before a gap).
  The first assignment is not a switch. ``A A B`` and ``A - B`` count 1 each; ``A - A``
  counts 0; a swap of two tracks between two truths counts 1 for each truth.
* **break**: a maximal run of consecutive unassigned scans that has an assigned scan both
  before and after it (the truth was held, lost, then held again). Unassigned scans before
  the first or after the last assignment are not breaks. ``A - - A`` counts 1 break,
  ``A - B - B`` counts 2; ``- A A -`` counts 0.
* **tracks_per_truth**: the number of distinct tracks ever assigned to the truth (1 is
  ideal).
* **truths_per_track**: the number of distinct truths a track was ever assigned to (1 is
  ideal).

Ids are strings; scans need not be evenly spaced (no times are used).

Two ways make the per-scan assignments: :func:`assignments` pairs truths and tracks by
position (the GOSPA rule), which is what a user of the tracks sees; :func:`label_assignments`
pairs them through the tracker's own association of detections with tracks and the truth
labels of those detections, which judges the association itself. The second is the one
to use for closely spaced objects: when two objects are closer than the tracks' errors, a
positional assignment flips between them with the noise although every track keeps its
object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from trilink.metrics.gospa import gospa_assignment

__all__ = ["Continuity", "assignments", "label_assignments", "track_continuity"]


@dataclass(frozen=True, slots=True)
class Continuity:
    """Per-truth and per-track continuity counts; definitions in the module docstring."""

    id_switches: Mapping[str, int] = field(metadata={"doc": "truth id -> identity switches"})
    breaks: Mapping[str, int] = field(metadata={"doc": "truth id -> breaks (lost, then held)"})
    tracks_per_truth: Mapping[str, int] = field(
        metadata={"doc": "truth id -> distinct tracks ever assigned"}
    )
    truths_per_track: Mapping[str, int] = field(
        metadata={"doc": "track id -> distinct truths ever assigned to"}
    )
    n_scans: int = field(metadata={"doc": "number of scans read"})

    @property
    def total_id_switches(self) -> int:
        """Identity switches summed over the truths."""
        return sum(self.id_switches.values())

    @property
    def total_breaks(self) -> int:
        """Breaks summed over the truths."""
        return sum(self.breaks.values())


def track_continuity(
    scans: Sequence[Mapping[str, str]], *, truth_ids: Iterable[str] = ()
) -> Continuity:
    """Count identity switches and breaks from per-scan ``{truth_id: track_id}`` assignments.

    ``truth_ids`` adds truths that may never have been assigned (they get zero counts and
    ``tracks_per_truth`` 0). Refuses a scan that assigns one track to two truths.
    """
    last_track: dict[str, str] = {}
    in_gap: dict[str, bool] = {}
    switches: dict[str, int] = {t: 0 for t in truth_ids}
    breaks: dict[str, int] = {t: 0 for t in switches}
    tracks_of: dict[str, set[str]] = {t: set() for t in switches}
    truths_of: dict[str, set[str]] = {}
    for k, scan in enumerate(scans):
        seen: dict[str, str] = {}
        for truth, track in scan.items():
            if track in seen:
                raise ValueError(
                    f"scan {k} assigns track {track!r} to two truths ({seen[track]!r} and "
                    f"{truth!r}); an assignment must be one-to-one"
                )
            seen[track] = truth
            previous = last_track.get(truth)
            if previous is None:
                switches.setdefault(truth, 0)
                breaks.setdefault(truth, 0)
                tracks_of.setdefault(truth, set())
            else:
                if previous != track:
                    switches[truth] += 1
                if in_gap[truth]:
                    breaks[truth] += 1
            last_track[truth] = track
            in_gap[truth] = False
            tracks_of[truth].add(track)
            truths_of.setdefault(track, set()).add(truth)
        for truth in last_track:
            if truth not in scan:
                in_gap[truth] = True
    return Continuity(
        id_switches=switches,
        breaks=breaks,
        tracks_per_truth={t: len(s) for t, s in tracks_of.items()},
        truths_per_track={r: len(s) for r, s in truths_of.items()},
        n_scans=len(scans),
    )


def _check_ids(ids: Sequence[str], n_points: int, name: str) -> None:
    if len(ids) != n_points:
        raise ValueError(f"{name} has {len(ids)} ids for {n_points} positions")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name} has repeated ids; each id must be unique within a scan")


def assignments(
    truth_ids: Sequence[str],
    truth_pos: ArrayLike,
    track_ids: Sequence[str],
    track_pos: ArrayLike,
    *,
    c: float,
    p: float = 2.0,
) -> dict[str, str]:
    """Return ``{truth_id: track_id}`` for one scan by the GOSPA assignment rule.

    Positions are (N, d) and (M, d) in the same frame (ECEF metres); only pairs closer
    than ``c`` (m) are assigned, choosing the one-to-one assignment that minimises the
    GOSPA of order ``p`` (see :func:`trilink.metrics.gospa.gospa_assignment`).
    """
    truth_arr = np.asarray(truth_pos, dtype=np.float64)
    track_arr = np.asarray(track_pos, dtype=np.float64)
    _check_ids(truth_ids, truth_arr.shape[0] if truth_arr.ndim else -1, "truth_ids")
    _check_ids(track_ids, track_arr.shape[0] if track_arr.ndim else -1, "track_ids")
    rows, cols = gospa_assignment(truth_arr, track_arr, c=c, p=p)
    return {truth_ids[i]: track_ids[j] for i, j in zip(rows.tolist(), cols.tolist(), strict=True)}


def label_assignments(
    associations: Mapping[str, int],
    truth_labels: Sequence[str | None],
    *,
    merged: Sequence[int] | None = None,
) -> dict[str, str]:
    """Return ``{truth_id: track_id}`` for one scan of one sensor from the tracker's
    associations (``{track_id: detection index}``, e.g. :meth:`Tracker.associations`) and
    the detections' truth labels (None for a false alarm).

    Reports of several unresolved objects (``merged[i] > 1``) and false alarms are skipped:
    they say nothing about which object a track follows. Within one scan each object gives
    at most one report, so the result is one-to-one.
    """
    out: dict[str, str] = {}
    for track, det in associations.items():
        if not 0 <= det < len(truth_labels):
            raise ValueError(
                f"track {track!r} is associated with detection {det}, but the scan has "
                f"{len(truth_labels)} detections"
            )
        truth = truth_labels[det]
        if truth is None or (merged is not None and merged[det] > 1):
            continue
        out[truth] = track
    return out
