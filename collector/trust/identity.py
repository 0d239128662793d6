"""Who is calling: the agent identity a gRPC call proves (certificate or token)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import grpc

from ronda.collector.trust.ca import AGENT_OU, AGENT_URI_PREFIX
from ronda.collector.trust.registry import Peer, Refused, fingerprint

AUTH_MODES = ("certificate", "token", "open")
_BEARER = "bearer "


def peer_of(context: grpc.ServicerContext, mode: str) -> Peer:
    """The caller as the transport proves it; refuses callers `mode` does not admit.

    certificate: a client certificate from the collector's CA (mutual TLS) naming the agent;
    token: an agent token from enrolment, as `authorization: Bearer TOKEN` over TLS;
    open: plain text on loopback; a token, if sent, is still checked.
    """
    # gRPC maps each auth property to a list of values; the stubs type a value as bytes
    auth = cast(Mapping[str, list[bytes]], context.auth_context())
    address = context.peer()
    token = _bearer(context)
    if auth.get("x509_pem_cert"):
        pem = auth["x509_pem_cert"][0]
        uris = [u.decode() for u in auth.get("peer_uri", []) + auth.get("x509_subject_alternative_name", [])]
        agent_ids = {u[len(AGENT_URI_PREFIX) :] for u in uris if u.startswith(AGENT_URI_PREFIX)}
        subject = b",".join(auth.get("x509_subject", [])).decode(errors="replace")
        if len(agent_ids) != 1 or f"OU={AGENT_OU}" not in subject:
            raise Refused(
                "PERMISSION_DENIED",
                f"the client certificate ({subject[:200]}) is not a ronda agent "
                "certificate; issue one with `ronda ca issue-agent AGENT_ID`",
            )
        return Peer("certificate", agent_ids.pop(), fingerprint(pem), address)
    if token is not None:
        return Peer("token", None, fingerprint(token), address)
    if mode == "certificate":
        raise Refused(
            "UNAUTHENTICATED",
            "no client certificate: this collector requires mutual TLS; give the agent "
            "--cert and --key from `ronda ca issue-agent`",
        )
    if mode == "token":
        raise Refused(
            "UNAUTHENTICATED",
            "no agent token: enrol this agent first with `ronda-agent enrol "
            "--secret-file FILE` (the operator makes the secret with "
            "`ronda agents enrolment-secret`)",
        )
    return Peer("none", None, None, address)


def _bearer(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value[: len(_BEARER)].lower() == _BEARER:
            return value[len(_BEARER) :].strip()
    return None
