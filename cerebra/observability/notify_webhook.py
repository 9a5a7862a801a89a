"""A Notifier that POSTs each notification as JSON to a webhook URL (httpx), with a timeout
and, when a secret is set, an HMAC-SHA256 signature of the exact body in the
`X-Cerebra-Signature` header (`sha256=<hex>`), so the receiver can tell it came from this
server. Failures (a refused connection, a timeout, a non-2xx answer) come back as a
`Delivery` with ok False, never as an exception."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import httpx

from cerebra.observability.notify import Delivery, Notification

log = logging.getLogger("cerebra.notify")

SIGNATURE_HEADER = "X-Cerebra-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`: `sha256=` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """POSTs `Notification.to_dict()` to `url`; one reused connection pool per kind of call."""

    name = "webhook"

    def __init__(self, url: str, *, secret: str = "", timeout_s: float = 5.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None

    def _request(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(notification.to_dict(), sort_keys=True, default=str).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "cerebra-notify"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        return body, headers

    def _outcome(self, reply: httpx.Response | None, error: Exception | None) -> Delivery:
        if error is not None:
            log.warning("webhook delivery failed: %s", error)
            return Delivery(self.name, False, f"{type(error).__name__}: {error}")
        assert reply is not None
        if not reply.is_success:
            log.warning("webhook answered HTTP %d", reply.status_code)
            return Delivery(self.name, False, f"HTTP {reply.status_code}")
        return Delivery(self.name, True, f"HTTP {reply.status_code}")

    def notify(self, notification: Notification) -> Delivery:
        body, headers = self._request(notification)
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        try:
            reply = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return self._outcome(None, error)
        return self._outcome(reply, None)

    async def anotify(self, notification: Notification) -> Delivery:
        body, headers = self._request(notification)
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(timeout=self.timeout_s)
        try:
            reply = await self._aclient.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return self._outcome(None, error)
        return self._outcome(reply, None)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._aclient = None  # its pool belongs to the loop that made it; dropped, not awaited
