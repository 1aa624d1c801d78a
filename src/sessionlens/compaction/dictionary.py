"""Per-site zstd dictionaries, trained from the site's own chunks.

A dictionary is immutable once stored under `v1/sites/{site}/dicts/{id}`;
ids count up from 1 and the highest is the one compaction uses. Objects
name the dictionary they were compressed with in their header, so training
a new one never makes an older object unreadable. Training is run by the
operator (`sessionlens compact --train-dictionary SITE`), e.g. after a
site's first few hundred page views or after a redesign.
"""

from __future__ import annotations

import zstandard

from sessionlens import codec, keys
from sessionlens.compaction.assets import Extractor
from sessionlens.compaction.source import ChunkSource
from sessionlens.stores.base import BlobStore

DICTIONARY_BYTES = 112 * 1024  # zstd's own default
TRAIN_FACTOR = 16  # sample bytes per dictionary byte for zstd's trainer to do well
TRAINED_MAGIC = b"\x37\xa4\x30\xec"
MAX_SAMPLE_BYTES = 16 * 1024 * 1024
MIN_SAMPLES = 8


class DictionaryError(Exception):
    pass


def samples(
    store: BlobStore, site: str, source: ChunkSource | None = None, sessions: set[str] | None = None
) -> list[bytes]:
    """The site's chunks (or those of `sessions`) as compaction packs them: large strings taken out."""
    source = source or ChunkSource(store)
    views: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    for key in store.list(keys.site_prefix(site) + "sessions/"):
        addr = keys.parse_chunk_key(key) or keys.parse_pack_key(key)
        if addr is None or (sessions is not None and addr.sid not in sessions):
            continue
        if (view := (addr.site, addr.sid, addr.pid)) not in seen:
            seen.add(view)
            views.append(view)
    out: list[bytes] = []
    total = 0
    for view in reversed(views):  # keys sort by session id, not time: any order is a fair sample
        listing = source.listing(*view)
        extractor = Extractor()
        for seq in listing.seqs:
            try:
                chunk = source.chunk(*view, seq, listing)
            except Exception:
                continue  # an unreadable chunk is no sample
            sample = codec.pack({**chunk, "events": extractor.events(chunk["events"])})
            out.append(sample)
            total += len(sample)
            if total >= MAX_SAMPLE_BYTES:
                return out
    return out


def build(found: list[bytes], size: int = DICTIONARY_BYTES) -> bytes:
    """A zstd dictionary from samples: trained when there is enough to train on, else their content.

    zstd's trainer picks the segments that recur most across samples, but it
    needs many times the dictionary's size to do so; a young site has less.
    Then the samples themselves (up to `size`) are the
    dictionary (zstd "raw content"), which serves a site whose visitors see
    the same pages again just as well. Readers load either kind the same way.
    """
    if sum(map(len, found)) >= TRAIN_FACTOR * size:
        try:
            return zstandard.train_dictionary(size, found).as_bytes()
        except zstandard.ZstdError as exc:
            raise DictionaryError(
                f"zstd could not train a dictionary from {len(found)} chunks: {exc}"
            ) from None
    content = bytearray()
    for sample in found:
        content += sample[: size - len(content)]
        if len(content) >= size:
            break
    if content[:4] == TRAINED_MAGIC:
        content[:0] = b"\0"  # never mistaken for a trained dictionary
    return bytes(content)


def train(
    store: BlobStore,
    site: str,
    size: int = DICTIONARY_BYTES,
    source: ChunkSource | None = None,
    sessions: set[str] | None = None,
) -> int:
    """Train and store a new dictionary for `site` (from `sessions` only, when given); returns its id."""
    found = samples(store, site, source, sessions)
    if len(found) < MIN_SAMPLES:
        raise DictionaryError(
            f"site {site} has {len(found)} chunk(s); at least {MIN_SAMPLES} are needed to train"
        )
    data = build(found, size)
    ids = [i for k in store.list(keys.dictionary_prefix(site)) if (i := keys.dictionary_id(k))]
    new_id = max(ids, default=0) + 1
    while not store.put_if_absent(keys.dictionary_key(site, new_id), data):
        new_id += 1  # another trainer took the id
    return new_id
