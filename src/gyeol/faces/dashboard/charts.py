"""The home page's charts as server-drawn SVG geometry: no script, no charting library, no inline styles (the
colours are SVG attributes, which the Content-Security-Policy allows)."""

from __future__ import annotations

from dataclasses import dataclass

from gyeol.core.dashboard.totals import Day

WIDTH, HEIGHT, GAP = 600, 200, 2
COLORS = {"succeeded": "#146c2e", "failed": "#b3261e", "other": "#8a939c", "volume": "#0b57d0"}


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    label: str


def volume_bars(days: list[Day], currency: str, label: str) -> list[Bar]:
    """One bar per day, its height the day's volume in `currency` against the highest day's."""
    values = [d.volume.get(currency, 0) for d in days]
    top = max(values, default=0) or 1
    step = WIDTH / max(len(days), 1)
    return [Bar(i * step, HEIGHT - v / top * HEIGHT, step - GAP, v / top * HEIGHT, COLORS["volume"],
                f"{d.day.isoformat()} {label}")
            for i, (d, v) in enumerate(zip(days, values, strict=True))]


def outcome_bars(days: list[Day], labels: dict[str, str]) -> list[Bar]:
    """One stacked bar per day: succeeded, failed and other payments, against the busiest day."""
    top = max((d.succeeded + d.failed + d.other for d in days), default=0) or 1
    step = WIDTH / max(len(days), 1)
    bars: list[Bar] = []
    for i, d in enumerate(days):
        y = float(HEIGHT)
        for kind in ("succeeded", "failed", "other"):
            n = getattr(d, kind)
            if n:
                h = n / top * HEIGHT
                y -= h
                bars.append(Bar(i * step, y, step - GAP, h, COLORS[kind], f"{d.day.isoformat()} {labels[kind]} {n}"))
    return bars
