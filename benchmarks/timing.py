"""timeit-style timing: an adaptive number of loops per repeat, the median over repeats."""

from __future__ import annotations

import math
import resource
import statistics
import timeit
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Settings:
    min_time: float  # seconds one repeat must last; the loop count grows until it does
    repeat: int  # repeats at most (the median is reported)
    budget: float  # seconds per measurement at most; slow calls get fewer repeats (>= 3)


FULL = Settings(min_time=0.05, repeat=21, budget=4.0)
QUICK = Settings(min_time=0.005, repeat=5, budget=0.5)


def measure(call: Callable[[], Any], settings: Settings) -> float:
    """Seconds per call of ``call``: the median over repeats of a timed loop (gc disabled)."""
    return measure_interleaved({"call": call}, settings)["call"]


def measure_interleaved(calls: dict[str, Callable[[], Any]], settings: Settings) -> dict[str, float]:
    """Seconds per call of each of ``calls``, their repeats taken in turn so drift hits all alike."""
    timers = {name: timeit.Timer(call) for name, call in calls.items()}
    numbers, repeats = {}, {}
    for name, timer in timers.items():
        numbers[name], elapsed = _calibrate(timer, settings.min_time)
        repeats[name] = max(3, min(settings.repeat, int(settings.budget / elapsed)))
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for round_ in range(max(repeats.values(), default=0)):
        for name, timer in timers.items():
            if round_ < repeats[name]:
                samples[name].append(timer.timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(times) for name, times in samples.items()}


def _calibrate(timer: timeit.Timer, min_time: float) -> tuple[int, float]:
    """The loop count for which one repeat lasts at least ``min_time``, and that repeat's time."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= min_time:
            return number, elapsed
        number = max(2 * number, math.ceil(1.2 * number * min_time / max(elapsed, 1e-9)))


def minor_page_faults() -> int:
    """Page faults of this process so far that the kernel served without disk: each is a page
    of fresh memory touched for the first time (the allocator got it from the system)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def page_faults_per_call(call: Callable[[], Any], calls: int) -> float:
    """Minor page faults per call over ``calls`` calls, after one warm-up call."""
    call()
    before = minor_page_faults()
    for _ in range(calls):
        call()
    return (minor_page_faults() - before) / calls
