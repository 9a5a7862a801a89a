"""Tables of the self-improvement loop (issue 11): signals, datasets and their versions,
workflows and training runs, model versions with promotions, gate reports and triggers — on
the shared metadata, re-exported by cerebra.db.schema. Every row carries `tenant_id`.
"""

from __future__ import annotations

from cerebra.db.metadata import metadata  # noqa: F401

# --- Part A1: signals (revision 0016) ---

# --- Part A2: datasets (revision 0017) ---

# --- Part B: workflows and training runs (revision 0018) ---

# --- Part C: jobs (revision 0019) ---

# --- Part E: model versions (revision 0020) ---

# --- Part G: gate reports (revision 0021) ---

# --- Part H: triggers (revision 0022) ---
