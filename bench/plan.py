"""How big a run is: the full run measures, `--quick` only proves every workload still runs."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
FULL_HUGE_SIZE = 100 * MIB
FULL_WRITERS = 8
# Quick: small enough for the smoke test; the huge file stays bigger than big.pdf so the labels differ.
QUICK_SCALE = 0.02
QUICK_HUGE_SIZE = 2 * MIB
QUICK_WRITERS = 2


@dataclass(frozen=True)
class Plan:
    scale: float  # multiplies every request count
    concurrency: int  # client connections for the read workloads
    huge_size: int  # bytes of huge.pdf and of each big upload
    writers: int  # concurrent writers, GET 1 MiB's connections, and clients of the upload-memory test

    def count(self, base: int) -> int:
        """A request count at this scale: at least one, so a tiny scale still runs everything."""
        return max(1, round(base * self.scale))

    @property
    def huge_label(self) -> str:
        return f"{self.huge_size // MIB} MiB"


def plan_for(quick: bool, scale: float | None, concurrency: int) -> Plan:
    if quick:
        return Plan(scale or QUICK_SCALE, concurrency, QUICK_HUGE_SIZE, QUICK_WRITERS)
    return Plan(scale or 1.0, concurrency, FULL_HUGE_SIZE, FULL_WRITERS)
