"""FastAPI dependencies: the app's Brain, Settings and Metrics, built once at start-up."""

from __future__ import annotations

from fastapi import Request

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.observability.metrics import Metrics


def get_brain(request: Request) -> Brain:
    brain: Brain = request.app.state.brain
    return brain


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics
