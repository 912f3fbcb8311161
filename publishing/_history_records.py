"""What the history store writes about one refresh: its jsonl lines and its ``segments.csv``.

Pure functions of a refresh's files (bytes in, bytes or dicts out); the store
(:mod:`publishing.history`) does the file system work.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from analysis.errors import PublishError

__all__ = ["LINE_FIELDS", "UNDATED", "encode_lines", "pseudonym_map", "refresh_name", "segment_lines", "snapshot_label"]

#: The fields of every line of ``refreshes.jsonl``, in the order they are written.
LINE_FIELDS = (
    "refresh",
    "snapshot",
    "data_sha256",
    "bundle_sha256",
    "line",
    "lines",
    "segment",
    "persona",
    "name",
    "customers",
    "share_customers",
    "revenue",
    "share_revenue",
    "predicted_value",
)
# A keyed pseudonym as analysis.privacy.pseudonymize writes it: the only customer key the history may hold.
_PSEUDONYM = re.compile(r"c_[0-9a-f]{16}")
_SNAPSHOT = re.compile(r"\d{4}-\d{2}-\d{2}")
UNDATED = "undated"


def snapshot_label(snapshot: str | None) -> str:
    """The snapshot as it appears in directory names (``undated`` for customer-level input)."""
    if snapshot is None:
        return UNDATED
    if not _SNAPSHOT.fullmatch(snapshot):
        raise PublishError(f"the bundle's snapshot date must be an ISO date (YYYY-MM-DD). Got {snapshot!r}.")
    return snapshot


def refresh_name(snapshot: str | None, data_sha256: str, bundle_sha256: str) -> str:
    """``<snapshot>_<data sha256[:12]>_<bundle sha256[:12]>``: one directory per build of one refresh."""
    return f"{snapshot_label(snapshot)}_{data_sha256[:12]}_{bundle_sha256[:12]}"


def _predicted_values(bundle: dict[str, Any]) -> dict[int, float]:
    clv = bundle.get("clv") or {}
    if not clv.get("reliable"):  # an unreliable model gives no numbers, so the history records none
        return {}
    return {row["segment"]: row["clv"] for row in clv.get("segments") or [] if row.get("segment") is not None}


def segment_lines(bundle: dict[str, Any], *, name: str, bundle_sha256: str) -> list[dict[str, Any]]:
    """One line per segment of a refresh's bundle, numbered so a reader can tell a complete set.

    Parameters
    ----------
    bundle
        The parsed ``bundle.json``.
    name
        The refresh's directory name (:func:`refresh_name`).
    bundle_sha256
        The SHA-256 of the bundle's bytes.

    Returns
    -------
    list of dict
        Keys :data:`LINE_FIELDS`; ``line`` counts 0..``lines``-1; ``predicted_value`` is the
        segment's summed lifetime value, None without a reliable model.
    """
    data = bundle["data"]
    values = _predicted_values(bundle)
    segments = sorted(bundle["segments"], key=lambda s: s["id"])
    return [
        {
            "refresh": name,
            "snapshot": data.get("snapshot_date"),
            "data_sha256": data["source"]["sha256"],
            "bundle_sha256": bundle_sha256,
            "line": i,
            "lines": len(segments),
            "segment": s["id"],
            "persona": s["persona"],
            "name": s["name"],
            "customers": s["size"],
            "share_customers": s["share_customers"],
            "revenue": s["revenue"],
            "share_revenue": s["share_revenue"],
            "predicted_value": values.get(s["id"]),
        }
        for i, s in enumerate(segments)
    ]


def encode_lines(lines: list[dict[str, Any]]) -> bytes:
    """The lines as UTF-8 JSON, one object a line, fields in :data:`LINE_FIELDS` order."""
    return "".join(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n" for line in lines).encode("utf-8")


def pseudonym_map(assignments: bytes, *, source: str) -> bytes:
    """``pseudonym,segment`` of every customer, sorted by pseudonym, from the private ``assignments.csv``.

    Sorting by pseudonym keeps even the order of the raw ids out of the history.

    Raises
    ------
    PublishError
        The export lacks either column, or a pseudonym is not a keyed pseudonym
        (``c_`` and 16 hex digits): nothing that could be a raw id is written.
    """
    reader = csv.DictReader(io.StringIO(assignments.decode("utf-8")))
    missing = [c for c in ("pseudonym", "segment") if c not in (reader.fieldnames or [])]
    if missing:
        raise PublishError(f"{source}: the private export has no {' or '.join(missing)} column.")
    rows, bad = [], 0
    for row in reader:
        pseudonym, segment = row["pseudonym"], row["segment"]
        if not _PSEUDONYM.fullmatch(pseudonym or "") or not (segment or "").isdigit():
            bad += 1
        else:
            rows.append((pseudonym, int(segment)))
    if bad:
        raise PublishError(
            f"{source}: {bad} row(s) without a keyed pseudonym (c_ and 16 hex digits) and a segment id; "
            "refusing to copy them into the history."
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("pseudonym", "segment"))
    writer.writerows(sorted(rows))
    return out.getvalue().encode("utf-8")
