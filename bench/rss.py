"""A process's peak resident set size, and its reset: what the benchmark workers measure memory with.

Linux only (``/proc/self/status`` and ``/proc/self/clear_refs``). Imports nothing beyond the
standard library, so a worker's baseline holds only what that worker imports itself.
"""

from __future__ import annotations


def peak_rss_bytes() -> int:
    """This process's peak resident set size since the last reset (``VmHWM``, Linux only).

    Not ``getrusage``'s ``ru_maxrss``: that also keeps the peak seen when a thread exited,
    which no reset clears.
    """
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    return int(kib) * 1024


def reset_peak_rss() -> int:
    """Make the peak resident set size the current one, and return it."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return peak_rss_bytes()
