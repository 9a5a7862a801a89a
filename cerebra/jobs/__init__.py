"""Background jobs: the JobRunner protocol and its in-process implementation."""

from cerebra.jobs.base import (
    INTERRUPTED,
    JobCancelled,
    JobContext,
    JobFn,
    JobInfo,
    JobRunner,
    JobState,
    ScheduleInfo,
)
from cerebra.jobs.inprocess import InProcessRunner

__all__ = [
    "INTERRUPTED",
    "InProcessRunner",
    "JobCancelled",
    "JobContext",
    "JobFn",
    "JobInfo",
    "JobRunner",
    "JobState",
    "ScheduleInfo",
]
