"""Benchmark harnesses behind `cerebra bench` and benchmarks/*.py; not used when serving.

locomo          recall@k on LoCoMo-format conversations, ingest rate, search latency
memory_scale    search latency and memory use at 10k-1M memories, SQLite and PostgreSQL
vector_indexes  the SQLite vector index choice: numpy vs sqlite-vec vs usearch vs hnswlib
"""
