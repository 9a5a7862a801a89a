"""The self-improvement loop: signals on traces, curated datasets, training workflows, the
evaluation gate, the model registry with promotion and rollback, and the triggers that run
the loop by themselves. Nothing is imported or built here at import time.
"""
