"""The bulletin's charts as PNG (matplotlib, Agg), labelled in both languages with the
CJK font of the font package."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from .context import MODE_LABELS, MODES, REGION_LABELS, BulletinContext  # noqa: E402
from .fonts import cjk_font_path  # noqa: E402

CHART_NAMES = ("cumulative_by_mode", "daily_new", "top_flows", "region_flows")
_COLOURS = ("#b22222", "#1f5fa8", "#e08a1e", "#3a8a3a")


def _font() -> font_manager.FontProperties:
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path))


def _style(ax, font, title: str) -> None:
    # A figure title, centred on the image: an axes title overflows beside long tick labels.
    ax.figure.suptitle(title, fontproperties=_sized(font, 14))
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        label.set_fontproperties(font)
        label.set_fontsize(11)
    ax.spines[["top", "right"]].set_visible(False)


def _sized(font: font_manager.FontProperties, size: float) -> font_manager.FontProperties:
    sized = font.copy()
    sized.set_size(size)
    return sized


def _thousands(ax, axis: str = "y") -> None:
    fmt = matplotlib.ticker.FuncFormatter(lambda v, _: f"{int(v):,}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def render_charts(context: BulletinContext, directory: Path) -> dict[str, Path]:
    """Write the four charts into `directory`; returns name → path."""
    directory.mkdir(parents=True, exist_ok=True)
    font = _font()
    paths: dict[str, Path] = {}
    # Days before the first return are left out: a row of empty bars tells a reader nothing.
    first = next((i for i, d in enumerate(context.series) if d.returns_cumulative), 0)
    series = context.series[first:]
    ticks = [d.date.strftime("%m-%d") for d in series]

    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = [0] * len(series)
    for mode, colour in zip(MODES, _COLOURS, strict=True):
        values = [d.cumulative_by_mode[mode] for d in series]
        zh, en = MODE_LABELS[mode]
        ax.bar(ticks, values, bottom=bottom, color=colour, label=f"{zh} {en}")
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.legend(prop=_sized(font, 11), frameon=False, loc="upper left")
    _thousands(ax)
    _style(ax, font, "分方式累计返岗人数 Cumulative returns by mode")
    paths["cumulative_by_mode"] = _save(fig, directory / "cumulative_by_mode.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(ticks, [d.returns_new for d in series], color=_COLOURS[1])
    _thousands(ax)
    _style(ax, font, "每日新增返岗人数 New returns by day")
    paths["daily_new"] = _save(fig, directory / "daily_new.png")

    # Only cells shown in the tables are drawn, so a chart reveals no suppressed value.
    fig, ax = plt.subplots(figsize=(8, 4.5))
    rows = [r for r in context.top_flows.rows if r.cells[1].status == "shown"][::-1]
    ax.barh([f"{r.label_zh} {r.label_en}" for r in rows], [r.cells[1].value for r in rows],
            color=_COLOURS[0])
    _thousands(ax, "x")
    _style(ax, font, "主要跨省返岗流向（累计） Main cross-province flows")
    paths["top_flows"] = _save(fig, directory / "top_flows.png")

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    n = len(REGION_LABELS)
    shown = [[row.cells[j].status == "shown" for j in range(n)] for row in context.region_flows.rows[:n]]
    grid = [[row.cells[j].value if shown[i][j] else 0 for j in range(n)]
            for i, row in enumerate(context.region_flows.rows[:n])]
    ax.imshow(grid, cmap="Reds")
    labels = [f"{zh}\n{en}" for zh, en in REGION_LABELS.values()]
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    peak = max((v for line in grid for v in line), default=0) or 1
    for i, row in enumerate(context.region_flows.rows[:n]):
        for j in range(n):
            colour = "white" if grid[i][j] > peak / 2 else "black"
            ax.text(j, i, row.cells[j].en, ha="center", va="center",
                    fontproperties=_sized(font, 12), color=colour)
    ax.set_xlabel("输入地 Destination", fontproperties=_sized(font, 11))
    ax.set_ylabel("输出地 Origin", fontproperties=_sized(font, 11))
    _style(ax, font, "四大区域间返岗流向 Returns between regions")
    paths["region_flows"] = _save(fig, directory / "region_flows.png")
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path
