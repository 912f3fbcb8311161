"""A growing set of 128-bit digests in memory: sorted runs merged as they grow (a small log-structured set).

The stream remembers three kinds of things only to answer "seen before?": the
rows kept (exact duplicates), the (customer, order) pairs (distinct orders)
and, when a feature needs them, the (customer, product) pairs. Each is a
128-bit digest held as two uint64 arrays (16 bytes an entry), sorted by
the high half; the low half settles the rare equal high halves. A run is
added per batch and runs of similar size are merged in linear time (``np.insert``), so a lookup
is a binary search in each of about log8(n / batch) runs. Lookups are few:
the cleaning asks only about rows of invoices seen before.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DigestSet", "pack", "unpack"]


def pack(h1: np.ndarray, h2: np.ndarray) -> bytes:
    """Digests as bytes (little-endian pairs), for the state file."""
    return np.stack([h1.astype("<u8"), h2.astype("<u8")], axis=1).tobytes()


def unpack(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.frombuffer(blob, dtype="<u8").reshape(-1, 2)
    return pairs[:, 0].astype(np.uint64), pairs[:, 1].astype(np.uint64)


def _sorted(h1: np.ndarray, h2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(h1)
    return h1[order], h2[order]


def _merge(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Merge two runs sorted by the high half, in linear time (``np.insert`` at the binary-searched places)."""
    (ah, al), (bh, bl) = a, b
    if len(ah) < len(bh):
        (ah, al), (bh, bl) = b, a
    at = np.searchsorted(ah, bh)
    return np.insert(ah, at, bh), np.insert(al, at, bl)


_MERGE = 8  # merge the newest runs while the older one is at most this many times larger


class DigestSet:
    """A set of 128-bit digests ``(h1, h2)``; :meth:`add` takes digests known to be absent."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(h) for h, _ in self._runs)

    @property
    def nbytes(self) -> int:
        return sum(h.nbytes + lo.nbytes for h, lo in self._runs)

    def contains(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Boolean mask: which ``(h1[i], h2[i])`` are in the set."""
        h1, h2 = np.asarray(h1, np.uint64), np.asarray(h2, np.uint64)
        order = np.argsort(h1, kind="stable")
        if not np.array_equal(order, np.arange(len(h1))):
            # Sorted needles make each binary search start where the last one ended (far fewer cache misses).
            found = np.empty(len(h1), dtype=bool)
            found[order] = self.contains(h1[order], h2[order])
            return found
        found = np.zeros(len(h1), dtype=bool)
        for hi, lo in self._runs:
            at = np.minimum(np.searchsorted(hi, h1), len(hi) - 1)
            hit = hi[at] == h1
            found[hit] |= lo[at[hit]] == h2[hit]
            # Equal high halves with another low half: rare; look along the run of equal highs.
            for i in np.flatnonzero(hit & ~found):
                end = np.searchsorted(hi, h1[i], side="right")
                found[i] = bool((lo[at[i] : end] == h2[i]).any())
        return found

    def add(self, h1: np.ndarray, h2: np.ndarray) -> None:
        """Add digests that are not in the set yet (and are distinct among themselves)."""
        if len(h1) == 0:
            return
        h1, h2 = np.asarray(h1, np.uint64), np.asarray(h2, np.uint64)
        self._runs.append(_sorted(h1, h2))
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= _MERGE * len(self._runs[-1][0]):
            b = self._runs.pop()
            a = self._runs.pop()
            self._runs.append(_merge(a, b))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every digest, as one run sorted by the high half."""
        if not self._runs:
            return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
        merged = self._runs[0]
        for run in self._runs[1:]:
            merged = _merge(merged, run)
        return merged
