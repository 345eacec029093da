"""Fault injection: which request gets a throttle, a 5xx or a dropped connection, and how it looks."""

from __future__ import annotations

import json
import random
import socket
import struct
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["throttling", "http500", "http503", "reset", "http500_after", "access_denied"]
# Faults delivered after the call took effect: the change is made, the caller only sees the error.
AFTER_EFFECT: frozenset[str] = frozenset({"http500_after"})
StartResponse = Callable[..., Any]

JSON_SERVICES = {"ecs", "dynamodb"}


class FaultSpec(BaseModel):
    """One fault rule.

    Matching calls are those whose service and operation equal `service`/`operation` ("*" matches any).
    - `nth=N`: the Nth matching call (1-based) and the `count - 1` calls after it fail (`count` defaults to 1).
    - `rate=r`: each matching call fails with probability r (seeded, reproducible), at most `count` times
      (unlimited when `count` is None).
    - neither: every matching call fails, at most `count` times (unlimited when None).
    """

    model_config = ConfigDict(extra="forbid")

    service: str = "*"
    operation: str = "*"
    kind: FaultKind = "throttling"
    rate: float | None = Field(default=None, ge=0.0, le=1.0)
    nth: int | None = Field(default=None, ge=1)
    count: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _rate_or_nth(self) -> FaultSpec:
        if self.rate is not None and self.nth is not None:
            raise ValueError("a fault takes either rate or nth, not both")
        return self

    def matches(self, service: str, operation: str) -> bool:
        return self.service in ("*", service) and self.operation in ("*", operation)


@dataclass
class _RuleState:
    spec: FaultSpec
    matched: int = 0
    delivered: int = 0


@dataclass
class DeliveredFault:
    service: str
    operation: str
    kind: FaultKind


@dataclass
class FaultInjector:
    """Decides per request whether a fault is due; remembers every fault it delivered."""

    seed: int = 0
    rules: list[_RuleState] = field(default_factory=list)
    delivered: list[DeliveredFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def reset(self, specs: Iterable[FaultSpec], seed: int) -> None:
        self.seed = seed
        self._random = random.Random(seed)
        self.rules = [_RuleState(spec) for spec in specs]
        self.delivered = []

    def add(self, spec: FaultSpec) -> None:
        self.rules.append(_RuleState(spec))

    def check(self, service: str, operation: str) -> FaultKind | None:
        """Return the fault to deliver for this call, if any (first matching rule that fires wins)."""
        for rule in self.rules:
            if not rule.spec.matches(service, operation):
                continue
            rule.matched += 1
            if self._fires(rule):
                rule.delivered += 1
                self.delivered.append(DeliveredFault(service, operation, rule.spec.kind))
                return rule.spec.kind
        return None

    def _fires(self, rule: _RuleState) -> bool:
        spec = rule.spec
        if spec.nth is not None:
            window = 1 if spec.count is None else spec.count
            return spec.nth <= rule.matched < spec.nth + window
        if spec.count is not None and rule.delivered >= spec.count:
            return False
        if spec.rate is not None:
            return self._random.random() < spec.rate
        return True


_CODES: dict[tuple[str, FaultKind], tuple[int, str, str]] = {
    ("ecs", "throttling"): (400, "ThrottlingException", "Rate exceeded"),
    ("dynamodb", "throttling"): (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    ("ec2", "throttling"): (503, "RequestLimitExceeded", "Request limit exceeded."),
    ("ecs", "http500"): (500, "ServerException", "Service encountered an internal error."),
    ("ecs", "access_denied"): (400, "AccessDeniedException", "User is not authorized to perform this operation"),
    ("dynamodb", "http500"): (500, "InternalServerError", "Internal server error"),
    ("dynamodb", "access_denied"): (
        400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform this action"
    ),
    ("ec2", "http500"): (500, "InternalError", "An internal error has occurred."),
}
_QUERY_DEFAULTS: dict[FaultKind, tuple[int, str, str]] = {
    "throttling": (400, "Throttling", "Rate exceeded"),
    "http500": (500, "InternalFailure", "An internal error has occurred."),
    "http503": (503, "ServiceUnavailable", "Service is unavailable."),
    "access_denied": (403, "AccessDenied", "User is not authorized to perform this operation"),
}


def fault_response(
    kind: FaultKind, service: str, environ: dict[str, Any], start_response: StartResponse
) -> list[bytes]:
    """Answer the request the way AWS answers when it delivers this fault."""
    if kind == "reset":
        _drop_connection(environ)
        start_response("500 Internal Server Error", [("Content-Length", "0"), ("Connection", "close")])
        return []
    if kind == "http500_after":
        kind = "http500"
    status, code, message = _CODES.get((service, kind), _QUERY_DEFAULTS[kind])
    request_id = str(uuid.uuid4())
    if service in JSON_SERVICES:
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    elif service == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        content_type = "text/xml"
    else:
        sender = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{sender}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    reason = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", content_type), ("Content-Length", str(len(body))), ("x-amzn-RequestId", request_id)],
    )
    return [body]


def _drop_connection(environ: dict[str, Any]) -> None:
    """Abort the TCP connection with an RST so the client sees 'connection reset by peer'."""
    sock = environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
