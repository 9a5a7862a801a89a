"""Kits: a task as a folder (kit.yaml, train.jsonl, eval.jsonl, a checker spec), loaded from
a path or an entry point; the kits shipped with Cerebra live in the folders beside this one.
"""
