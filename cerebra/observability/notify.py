"""The Notifier seam: how Cerebra tells people something needs attention (a budget crossing
a threshold, drift in a task's prompts or scores). One small protocol, sync and async alike;
implementations (the log notifier here, a webhook, later chat adapters) deliver a typed
`Notification` and report what happened as data, never by raising into the caller's path."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Severity = Literal["info", "warning", "critical"]

log = logging.getLogger("cerebra.notify")


@dataclass(frozen=True)
class Notification:
    """One alert: what kind, for which tenant, how bad, and its facts as plain data."""

    kind: str  # "budget", "drift", …: the subsystem that raised it
    tenant_id: str
    title: str
    message: str
    severity: Severity = "warning"
    data: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Delivery:
    """What one notifier did with one notification: delivered or not, and why not."""

    notifier: str
    ok: bool
    detail: str = ""


@runtime_checkable
class Notifier(Protocol):
    """Delivers notifications. `notify` never raises for a delivery failure: it returns it."""

    name: str

    def notify(self, notification: Notification) -> Delivery: ...

    async def anotify(self, notification: Notification) -> Delivery: ...

    def close(self) -> None: ...


class LogNotifier:
    """The default: a warning line in the JSON log with the notification's fields."""

    name = "log"

    def notify(self, notification: Notification) -> Delivery:
        log.warning(notification.title, extra={"notification": notification.to_dict()})
        return Delivery(self.name, True)

    async def anotify(self, notification: Notification) -> Delivery:
        return self.notify(notification)

    def close(self) -> None:
        return None


class FanOut:
    """Several notifiers as one: each gets every notification; deliveries come back in order."""

    name = "fanout"

    def __init__(self, notifiers: list[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def notify_all(self, notification: Notification) -> list[Delivery]:
        return [n.notify(notification) for n in self.notifiers]

    async def anotify_all(self, notification: Notification) -> list[Delivery]:
        return list(await asyncio.gather(*(n.anotify(notification) for n in self.notifiers)))

    def notify(self, notification: Notification) -> Delivery:
        done = self.notify_all(notification)
        failed = [d for d in done if not d.ok]
        return Delivery(self.name, not failed, "; ".join(f"{d.notifier}: {d.detail}"
                                                        for d in failed))

    async def anotify(self, notification: Notification) -> Delivery:
        done = await self.anotify_all(notification)
        failed = [d for d in done if not d.ok]
        return Delivery(self.name, not failed, "; ".join(f"{d.notifier}: {d.detail}"
                                                        for d in failed))

    def close(self) -> None:
        for n in self.notifiers:
            n.close()
