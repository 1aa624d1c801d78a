"""The one place that decides where objects live in the blob store.

Layout (also documented in storage_schemas/layout.md):

    v1/sites/{site}/sessions/{sid}/{pid}/chunks/{seq:08d}.mpz
    v1/sites/{site}/sessions/{sid}/{pid}/packs/{first:08d}-{last:08d}-{tag}.mpz
    v1/sites/{site}/sessions/{sid}/{pid}/keyframes/{t:010d}.mpz
    v1/sites/{site}/assets/{sha256}
    v1/sites/{site}/dicts/{id:08d}
    v1/sites/{site}/docs/{kind}/{id}/{version:010d}.mpz
    v1/sites/{site}/session-docs/{sid}/{kind}/{id}/{version:010d}.mpz
    config/sites/{site}.json
    config/users/{name}.json
    config/tokens/{sha256 of token}.json
    config/sessions/{user}/{sha256 of session id}.json
    config/secret
    config/audit/{yyyy-mm-dd}/{epoch ms:013d}-{action}-{id}.json

A chunk key is a pure function of (site, sid, pid, seq) and the first write
of a key wins: a retried batch is recognised, never stored twice and never
rewritten. Compaction later moves a finished page view's chunks into a pack
(which names the chunks it holds); a chunk is then found in its pack, and
a chunk key keeps naming it (reindex and error reports use it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHUNK_ROOT = "v1/sites/"
SITE_CONFIG_PREFIX = "config/sites/"
USER_PREFIX = "config/users/"
TOKEN_PREFIX = "config/tokens/"
SESSION_PREFIX = "config/sessions/"
SECRET_KEY = "config/secret"
AUDIT_PREFIX = "config/audit/"  # erasure and retention records: configuration, never derived or erased
HEALTH_PROBE_KEY = "health/probe"  # every collector's /healthz writes and reads it back
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PACK_KEY = re.compile(
    r"^v1/sites/(?P<site>[A-Za-z0-9_-]+)/sessions/(?P<sid>[A-Za-z0-9_-]+)/"
    r"(?P<pid>[A-Za-z0-9_-]+)/packs/(?P<first>\d{8})-(?P<last>\d{8})-(?P<tag>[0-9a-f]{16})\.mpz$"
)
_ASSET_KEY = re.compile(r"^v1/sites/(?P<site>[A-Za-z0-9_-]+)/assets/(?P<sha>[0-9a-f]{64})$")
_CHUNK_KEY = re.compile(
    r"^v1/sites/(?P<site>[A-Za-z0-9_-]+)/sessions/(?P<sid>[A-Za-z0-9_-]+)/"
    r"(?P<pid>[A-Za-z0-9_-]+)/chunks/(?P<seq>\d{8})\.mpz$"
)


@dataclass(frozen=True, slots=True)
class ChunkAddress:
    site: str
    sid: str
    pid: str
    seq: int


def _checked(part: str) -> str:
    # Ids reach here already validated; this keeps a bad caller from
    # escaping the layout with "/" or "..".
    if not _ID.match(part):
        raise ValueError(f"not a valid id for a storage key: {part!r}")
    return part


def chunk_key(addr: ChunkAddress) -> str:
    return (
        f"{CHUNK_ROOT}{_checked(addr.site)}/sessions/{_checked(addr.sid)}/"
        f"{_checked(addr.pid)}/chunks/{addr.seq:08d}.mpz"
    )


def parse_chunk_key(key: str) -> ChunkAddress | None:
    match = _CHUNK_KEY.match(key)
    if not match:
        return None
    return ChunkAddress(match["site"], match["sid"], match["pid"], int(match["seq"]))


def session_prefix(site: str, sid: str) -> str:
    return f"{CHUNK_ROOT}{_checked(site)}/sessions/{_checked(sid)}/"


def site_prefix(site: str) -> str:
    return f"{CHUNK_ROOT}{_checked(site)}/"


def keyframe_key(site: str, sid: str, pid: str, t: int) -> str:
    return f"{session_prefix(site, sid)}{_checked(pid)}/keyframes/{t:010d}.mpz"


def site_config_key(site: str) -> str:
    return f"{SITE_CONFIG_PREFIX}{_checked(site)}.json"


def keyframe_prefix(site: str, sid: str, pid: str) -> str:
    return f"{session_prefix(site, sid)}{_checked(pid)}/keyframes/"


def keyframe_time(key: str) -> int | None:
    """The t of a keyframe key, or None when the key is not one."""
    name = key.rsplit("/", 1)[-1]
    if "/keyframes/" not in key or not name.endswith(".mpz") or not name[:-4].isdigit():
        return None
    return int(name[:-4])


def chunk_prefix(site: str, sid: str, pid: str) -> str:
    return f"{session_prefix(site, sid)}{_checked(pid)}/chunks/"


def user_key(name: str) -> str:
    return f"{USER_PREFIX}{_checked(name)}.json"


def token_key(token_hash: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", token_hash):
        raise ValueError("token hash must be 64 hex digits")
    return f"{TOKEN_PREFIX}{token_hash}.json"


def user_sessions_prefix(user: str) -> str:
    return f"{SESSION_PREFIX}{_checked(user)}/"


def session_key(user: str, session_hash: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", session_hash):
        raise ValueError("session hash must be 64 hex digits")
    return f"{user_sessions_prefix(user)}{session_hash}.json"


def backdrop_key(site: str, sid: str, pid: str, t: int, width: int) -> str:
    """A rendered heatmap backdrop (PNG) and its element boxes (JSON) share this stem."""
    return f"{session_prefix(site, sid)}{_checked(pid)}/backdrops/{t:010d}-{int(width)}"


# -- compaction: packs, content-addressed assets, dictionaries --------------------------


@dataclass(frozen=True, slots=True)
class PackAddress:
    site: str
    sid: str
    pid: str
    first: int
    last: int
    tag: str  # 16 hex digits naming the pack's content (its chunks and its encoding)


def pack_prefix(site: str, sid: str, pid: str) -> str:
    return f"{session_prefix(site, sid)}{_checked(pid)}/packs/"


def pack_key(addr: PackAddress) -> str:
    if not re.fullmatch(r"[0-9a-f]{16}", addr.tag):
        raise ValueError("pack tag must be 16 hex digits")
    return f"{pack_prefix(addr.site, addr.sid, addr.pid)}{addr.first:08d}-{addr.last:08d}-{addr.tag}.mpz"


def parse_pack_key(key: str) -> PackAddress | None:
    match = _PACK_KEY.match(key)
    if not match:
        return None
    return PackAddress(
        match["site"], match["sid"], match["pid"], int(match["first"]), int(match["last"]), match["tag"]
    )


def asset_prefix(site: str) -> str:
    return f"{site_prefix(site)}assets/"


def asset_key(site: str, sha256_hex: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256_hex):
        raise ValueError("asset name must be 64 hex digits (its SHA-256)")
    return f"{asset_prefix(site)}{sha256_hex}"


def parse_asset_key(key: str) -> tuple[str, str] | None:
    match = _ASSET_KEY.match(key)
    return (match["site"], match["sha"]) if match else None


def dictionary_prefix(site: str) -> str:
    return f"{site_prefix(site)}dicts/"


def dictionary_key(site: str, dict_id: int) -> str:
    if not 0 < dict_id < 10**8:
        raise ValueError("dictionary id must be 1 .. 99999999")
    return f"{dictionary_prefix(site)}{dict_id:08d}"


def dictionary_id(key: str) -> int | None:
    """The id of a dictionary key, or None when the key is not one."""
    if "/dicts/" not in key:
        return None
    name = key.rsplit("/", 1)[-1]
    return int(name) if len(name) == 8 and name.isdigit() and int(name) > 0 else None


# -- data lifecycle: audit records ---------------------------------------------------------


def audit_key(when_ms: int, action: str, record_id: str) -> str:
    """An audit record of an erasure or a retention run (sorted by day, then time)."""
    import datetime as dt

    if not re.fullmatch(r"[a-z]{1,16}", action):
        raise ValueError("audit action must be 1-16 lower-case letters")
    day = dt.datetime.fromtimestamp(when_ms / 1000, dt.UTC).date().isoformat()
    return f"{AUDIT_PREFIX}{day}/{when_ms:013d}-{action}-{_checked(record_id)}.json"


# -- saved documents: researcher-made notes, collections, segments (saved_docs.py) ------------

_DOC_KIND = re.compile(r"^[a-z]{1,16}$")


def saved_doc_root(site: str, sid: str | None = None) -> str:
    """Where a site's saved documents live; those on one session (notes) under the session's own
    folder, so erasing the session finds them by prefix without the index."""
    if sid is None:
        return f"{site_prefix(site)}docs/"
    return f"{site_prefix(site)}session-docs/{_checked(sid)}/"


def saved_doc_prefix(site: str, kind: str, doc_id: str, sid: str | None = None) -> str:
    """The folder of one document's versions (one object each; the highest is the document)."""
    if not _DOC_KIND.match(kind):
        raise ValueError("document kind must be 1-16 lower-case letters")
    return f"{saved_doc_root(site, sid)}{kind}/{_checked(doc_id)}/"


def saved_doc_key(site: str, kind: str, doc_id: str, version: int, sid: str | None = None) -> str:
    if not 0 < version < 10**10:
        raise ValueError("document version must be 1 .. 9999999999")
    return f"{saved_doc_prefix(site, kind, doc_id, sid)}{version:010d}.mpz"


def saved_doc_version(key: str) -> int | None:
    """The version a saved document key names, or None when the key is not one."""
    name = key.rsplit("/", 1)[-1]
    if len(name) != 14 or not name.endswith(".mpz") or not name[:10].isdigit():
        return None
    return int(name[:10]) or None
