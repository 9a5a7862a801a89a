"""Plugins: code found through entry points (group `cerebra.plugins`) and a plugins folder
that registers agents, tools, judges, model backends and policies through one
`register(manager)` hook (see cerebra.plugins.manager, docs in cerebra.plugins.loader)."""
