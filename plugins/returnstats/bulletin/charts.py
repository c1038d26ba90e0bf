"""The bulletin's charts as PNG (matplotlib, Agg), one set per language, each drawn to sit
beside its table: axis labels, legends and names in the edition's language ("2月16日" /
"16 Feb"), set in the CJK font of the font package.

Charts draw only national figures (published unsuppressed) or cells shown in their table,
so a chart reveals no suppressed value. They are drawn at twice their width in the page,
so that paper and high-density screens get sharp lines.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.textpath import TextToPath  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from .context import MODE_LABELS, MODES, REGION_LABELS, BulletinContext  # noqa: E402
from .dates import chart_date  # noqa: E402
from .fonts import cjk_font_path  # noqa: E402

LANGS = ("zh", "en")
# name → width and height in the page (CSS px); the templates give the same widths.
CHART_SIZES = {
    "daily_new": (350, 230),
    "cumulative_by_mode": (350, 250),
    "top_flows": (350, 300),
    "region_flows": (260, 250),
    "enterprises": (380, 520),
}
CHART_NAMES = tuple(CHART_SIZES)
SCALE = 2  # image pixels per CSS pixel
_COLOURS = ("#b22222", "#1f5fa8", "#e08a1e", "#3a8a3a")
_TITLES = {
    "daily_new": ("每日新增返岗人数（人）", "New returns by day (persons)"),
    "cumulative_by_mode": ("分方式累计返岗人数（人）", "Cumulative returns by mode (persons)"),
    "top_flows": ("主要跨省流向，累计（人）", "Main cross-province flows, cumulative"),
    "region_flows": ("区域间返岗流向（累计）", "Returns between regions"),
    "enterprises": ("重点企业用工保障（家）", "Key enterprises (enterprises)"),
}


def chart_file(directory: Path, name: str, lang: str) -> Path:
    return directory / f"{name}.{lang}.png"


def _font() -> font_manager.FontProperties:
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path))


def _sized(font: font_manager.FontProperties, size: float) -> font_manager.FontProperties:
    sized = font.copy()
    sized.set_size(size)
    return sized


def _figure(name: str) -> tuple[Figure, object]:
    width, height = CHART_SIZES[name]
    fig = Figure(figsize=(width / 100, height / 100), dpi=100 * SCALE)
    return fig, fig.add_subplot()


_TEXT = TextToPath()


def _text_points(texts, font, size: float) -> float:
    """Width in points of the widest of `texts` set in `font` at `size`."""
    sized = _sized(font, size)
    return max((_TEXT.get_text_width_height_descent(t, sized, ismath=False)[0] for t in texts),
               default=0.0)


def _margins(fig: Figure, left: float, bottom: float, top: float = 16.0, right: float = 8.0) -> None:
    """Place the axes by margins in points, measured from the labels they must hold: a
    layout engine (constrained, tight) would draw every figure twice."""
    width, height = (x * 72 for x in fig.get_size_inches())
    fig.subplots_adjust(left=left / width, right=1 - right / width,
                        bottom=bottom / height, top=1 - top / height)


def _style(ax, font, title: str, size: float = 7.5) -> None:
    ax.set_title(title, fontproperties=_sized(font, 8.5), loc="left")
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        label.set_fontproperties(_sized(font, size))
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(length=2, width=0.6)


def _value_axis_points(peak: int, font) -> float:
    """Left margin for a value axis up to `peak`: its widest label ("120,000") and ticks."""
    return _text_points([f"{peak * 1.1:,.0f}"], font, 7.5) + 8


def _thousands(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}"))
    axis.set_major_locator(MaxNLocator(nbins=5, integer=True))


def _daily_new(ax, context: BulletinContext, lang: str, font) -> None:
    series = _from_first_return(context)
    ticks = [chart_date(d.date, context.as_of, lang) for d in series]
    values = [d.returns_new for d in series]
    ax.bar(ticks, values, color=_COLOURS[1])
    _thousands(ax.yaxis)
    _style(ax, font, _TITLES["daily_new"][lang == "en"])
    _thin_ticks(ax, len(ticks))
    _margins(ax.figure, _value_axis_points(max(values, default=0), font), 18)


def _cumulative_by_mode(ax, context: BulletinContext, lang: str, font) -> None:
    series = _from_first_return(context)
    ticks = [chart_date(d.date, context.as_of, lang) for d in series]
    bottom = [0] * len(series)
    for mode, colour in zip(MODES, _COLOURS, strict=True):
        values = [d.cumulative_by_mode[mode] for d in series]
        ax.bar(ticks, values, bottom=bottom, color=colour, label=MODE_LABELS[mode][lang == "en"])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.legend(prop=_sized(font, 7), frameon=False, loc="upper left")
    _thousands(ax.yaxis)
    _style(ax, font, _TITLES["cumulative_by_mode"][lang == "en"])
    _thin_ticks(ax, len(ticks))
    _margins(ax.figure, _value_axis_points(max(bottom, default=0), font), 18)


def _top_flows(ax, context: BulletinContext, lang: str, font) -> None:
    rows = [r for r in context.top_flows.rows if r.cells[1].status == "shown"][::-1]
    labels = [r.label_zh if lang == "zh" else r.label_en for r in rows]
    ax.barh(labels, [r.cells[1].value for r in rows], color=_COLOURS[0])
    _thousands(ax.xaxis)
    _style(ax, font, _TITLES["top_flows"][lang == "en"], size=7)
    _margins(ax.figure, _text_points(labels, font, 7) + 8, 18, right=14)


def _region_flows(ax, context: BulletinContext, lang: str, font) -> None:
    n = len(REGION_LABELS)
    rows = context.region_flows.rows[:n]
    shown = [[row.cells[j].status == "shown" for j in range(n)] for row in rows]
    grid = [[row.cells[j].value if shown[i][j] else 0 for j in range(n)]
            for i, row in enumerate(rows)]
    ax.imshow(grid, cmap="Reds")
    labels = [names[lang == "en"] for names in REGION_LABELS.values()]
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("输入地" if lang == "zh" else "Destination", fontproperties=_sized(font, 7))
    # A Chinese axis label reads top to bottom, its characters upright.
    ax.set_ylabel("\n".join("输出地") if lang == "zh" else "Origin", fontproperties=_sized(font, 7),
                  rotation=0 if lang == "zh" else 90, va="center", labelpad=8)
    _style(ax, font, _TITLES["region_flows"][lang == "en"], size=7)
    ax.spines[:].set_visible(False)
    _margins(ax.figure, _text_points(labels, font, 7) + 24, 30, right=4)


def _enterprises(ax, context: BulletinContext, lang: str, font) -> None:
    rows = [r for r in context.enterprises.rows[:-1]  # the total row is not a province
            if all(cell.status == "shown" for cell in r.cells)][::-1]
    labels = [r.label_zh if lang == "zh" else r.label_en for r in rows]
    ax.barh(labels, [r.cells[0].value for r in rows], color="#d9d9d9",
            label="重点企业" if lang == "zh" else "Reported")
    ax.barh(labels, [r.cells[1].value for r in rows], color=_COLOURS[2], height=0.5,
            label="已解决用工" if lang == "zh" else "Needs met")
    ax.legend(prop=_sized(font, 7), frameon=False, loc="lower left", bbox_to_anchor=(0, 1),
              ncol=2, borderaxespad=0.2, handlelength=1.2)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    _thousands(ax.xaxis)
    _style(ax, font, _TITLES["enterprises"][lang == "en"], size=7)
    ax.set_title(ax.get_title(loc="left"), fontproperties=_sized(font, 8.5), loc="left", pad=16)
    _margins(ax.figure, _text_points(labels, font, 7) + 8, 18, top=32, right=14)


_DRAW: dict[str, Callable] = {
    "daily_new": _daily_new,
    "cumulative_by_mode": _cumulative_by_mode,
    "top_flows": _top_flows,
    "region_flows": _region_flows,
    "enterprises": _enterprises,
}


def _from_first_return(context: BulletinContext):
    """Days before the first return are left out: a row of empty bars tells a reader nothing."""
    first = next((i for i, d in enumerate(context.series) if d.returns_cumulative), 0)
    return context.series[first:]


def _thin_ticks(ax, n: int, most: int = 5) -> None:
    """At most `most` date labels: every k-th day, counted back from the last one."""
    step = max(1, -(-n // most))
    for i, label in enumerate(ax.get_xticklabels()):
        label.set_visible((n - 1 - i) % step == 0)


def render_charts(context: BulletinContext, directory: Path, lang: str) -> dict[str, Path]:
    """Write every chart of the `lang` edition into `directory`; name → path."""
    directory.mkdir(parents=True, exist_ok=True)
    font = _font()
    paths: dict[str, Path] = {}
    for name, draw in _DRAW.items():
        fig, ax = _figure(name)
        draw(ax, context, lang, font)
        paths[name] = chart_file(directory, name, lang)
        fig.savefig(paths[name], metadata={"Software": None})
    return paths
