"""Benchmark 3: domain normalisation alone, on the domain values of the end-to-end records."""

from __future__ import annotations

import time
from dataclasses import dataclass

from airflow_provider_bombora.domains import InvalidDomain, normalize_domain
from bench import data


@dataclass(frozen=True)
class NormalisationFigure:
    records: int
    seconds: float
    rejected: int

    @property
    def seconds_per_million(self) -> float:
        return self.seconds * 1_000_000 / self.records


def measure_normalisation(records: int, repeats: int) -> NormalisationFigure:
    """Normalise the domain field of ``records`` records (values built beforehand); the fastest of ``repeats``."""
    values = [data.domain_value(index) for index in range(records)]
    timings = []
    for _ in range(repeats):
        rejected = 0
        start = time.perf_counter()
        for value in values:
            try:
                normalize_domain(value)
            except InvalidDomain:
                rejected += 1
        timings.append(time.perf_counter() - start)
    return NormalisationFigure(records=records, seconds=min(timings), rejected=rejected)
