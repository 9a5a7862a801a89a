"""Agents: the registry of a tenant's agents (personas, careers, lineage) and answers given
as an agent. `AgentRegistry` is the entry point; see cerebra.agents.registry."""

from cerebra.agents.model import Agent, AgentSandboxed, TitleChange, UnknownAgent
from cerebra.agents.registry import AgentRegistry

__all__ = ["Agent", "AgentRegistry", "AgentSandboxed", "TitleChange", "UnknownAgent"]
