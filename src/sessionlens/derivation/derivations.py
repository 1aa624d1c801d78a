"""The one list of derivations run for a page view, by the worker and by `reindex`.

Each derivation reads the page view's stored chunks and writes what it
derives (to the blob store or the index) so that running it again gives the
same result: a worker that crashed half-way, or two workers that both took
an expired claim, leave correct data behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sessionlens import keys
from sessionlens.derivation.clicks import ClickDeriver
from sessionlens.derivation.forms import derive_forms
from sessionlens.derivation.funnel_facts import FunnelFactDeriver
from sessionlens.heatmap.signals import Thresholds
from sessionlens.index import Index
from sessionlens.replay.keyframes import write_keyframes
from sessionlens.replay.pageview import PageViewReader
from sessionlens.stores.base import BlobStore

if TYPE_CHECKING:
    from sessionlens.compaction.queue import Compactor

PageView = tuple[str, str, str]


class DerivationError(Exception):
    """A derivation failed; `key` names the chunk being read (or the page view)."""

    def __init__(self, derivation: str, key: str, cause: BaseException) -> None:
        super().__init__(f"{derivation}: {type(cause).__name__}: {cause}")
        self.derivation = derivation
        self.key = key
        self.cause = cause


@dataclass
class Context:
    """Where derivations read from and write to."""

    store: BlobStore
    index: Index
    reader: PageViewReader
    thresholds: Thresholds = field(default_factory=Thresholds)
    clicks: ClickDeriver = field(default_factory=ClickDeriver)
    funnel_facts: FunnelFactDeriver = field(default_factory=FunnelFactDeriver)
    # Schedules (and runs, from the worker) compaction of idle page views; None: off.
    compactor: Compactor | None = None


@dataclass(frozen=True)
class Derivation:
    name: str
    # run(context, page view, rebuild, on_chunk): rebuild=True recomputes from
    # the first chunk instead of continuing from what was derived before.
    run: Callable[[Context, PageView, bool, Callable[[int], None]], None]


def _keyframes(ctx: Context, view: PageView, rebuild: bool, on_chunk: Callable[[int], None]) -> None:
    write_keyframes(ctx.store, ctx.reader, *view, rebuild=rebuild, on_chunk=on_chunk)


def _click_and_move_facts(ctx: Context, view: PageView, rebuild: bool, on_chunk: Callable[[int], None]) -> None:
    ctx.clicks.derive(ctx.index, ctx.reader, ctx.thresholds, view, rebuild=rebuild, on_chunk=on_chunk)


def _funnel_facts(ctx: Context, view: PageView, rebuild: bool, on_chunk: Callable[[int], None]) -> None:
    ctx.funnel_facts.derive(ctx.index, ctx.reader, view, rebuild=rebuild, on_chunk=on_chunk)


def _forms(ctx: Context, view: PageView, rebuild: bool, on_chunk: Callable[[int], None]) -> None:
    derive_forms(ctx.index, ctx.reader, view, on_chunk)


def _schedule_compaction(ctx: Context, view: PageView, rebuild: bool, on_chunk: Callable[[int], None]) -> None:
    # Each pass follows a new chunk: the page view is compacted once it has been idle long enough.
    if ctx.compactor is not None and not rebuild:
        ctx.compactor.schedule([view])


DERIVATIONS: tuple[Derivation, ...] = (
    Derivation("keyframes", _keyframes),
    Derivation("clicks", _click_and_move_facts),
    Derivation("funnel_facts", _funnel_facts),
    Derivation("forms", _forms),
    Derivation("compaction", _schedule_compaction),
)


def derive_page_view(
    ctx: Context, view: PageView, *, rebuild: bool = False, skip: frozenset[str] = frozenset()
) -> None:
    """Run every derivation of the list for one page view.

    One failing derivation does not keep the others from running; the
    first failure is raised afterwards as a DerivationError.
    """
    site, sid, pid = view
    failure: DerivationError | None = None
    for derivation in DERIVATIONS:
        if derivation.name in skip:
            continue
        at: list[int] = []
        try:
            derivation.run(ctx, view, rebuild, at.append)
        except Exception as exc:
            key = (
                keys.chunk_key(keys.ChunkAddress(site, sid, pid, at[-1]))
                if at
                else keys.chunk_prefix(site, sid, pid)
            )
            failure = failure or DerivationError(derivation.name, key, exc)
    if failure is not None:
        raise failure
