"""The agent's reporting loop: scan, number, send; again after the interval."""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path

import grpc
from google.protobuf.message import DecodeError

from ronda.agent.backoff import Backoff
from ronda.agent.config import AgentConfig, AgentConfigError
from ronda.agent.discovery import DiscoveryOptions
from ronda.agent.enrol import agent_id_from_certificate, load_token
from ronda.agent.host import LocalHost
from ronda.agent.sender import Ack, Sender, SendError
from ronda.agent.snapshot import ScanOptions, scan_usage
from ronda.agent.spool import Spool
from ronda.agent.state import AgentState, state_dir_for
from ronda.agent.usage.delta import UsageMark, join_spooled
from ronda.convert import snapshot_to_wire
from ronda.transport import TlsFiles
from ronda.wire.v1 import ronda_pb2 as pb

log = logging.getLogger("ronda.agent")
_USAGE_LAGS = "the collector lacks this agent's earlier usage; sending a snapshot that holds it"
_IDENTITY_REFUSALS = (
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.FAILED_PRECONDITION,
)


def scan_options(
    config: AgentConfig,
    interval: int = 0,
    state_dir: str | None = None,
    usage_since: UsageMark | None = None,
) -> ScanOptions:
    return ScanOptions(
        discovery=DiscoveryOptions(
            nginx_conf=config.nginx_conf, apache_conf=config.apache_conf, sources=tuple(config.sources)
        ),
        agent_id=config.agent_id,
        interval_seconds=interval,
        state_dir=Path(state_dir) if state_dir else None,
        usage_since=usage_since,
        deadline_seconds=config.scan_timeout_seconds,
    )


def lower_priority() -> None:
    """Be light on the server: lowest CPU and idle I/O priority."""
    import psutil

    me = psutil.Process()
    try:
        me.nice(19)
        me.ionice(psutil.IOPRIO_CLASS_IDLE)
    except (psutil.Error, OSError, AttributeError):
        log.debug("could not lower priority", exc_info=True)


class Agent:
    """Scans, spools, and sends in order; the spool (under the state dir) survives restarts and outages."""

    def __init__(self, config: AgentConfig) -> None:
        if not config.collector:
            raise AgentConfigError(
                "no collector address: give --collector HOST:PORT or set collector in the config"
            )
        self.config = config
        self.host = LocalHost(config.root or None)
        state_dir = config.state_dir or state_dir_for("", config.root)
        self.state_dir = state_dir
        self.state = AgentState.load(state_dir)
        self.spool = Spool(Path(state_dir) / "spool", config.spool_max_entries, join=join_spooled)
        # The collector's usage lags behind the last snapshot it answered (it lacked that snapshot's base):
        # the next scan is sent now, not after the interval.
        self.usage_lags = False
        token = None if config.cert else load_token(state_dir)
        if config.cert and not config.agent_id:
            config.agent_id = agent_id_from_certificate(config.cert)
        if token is not None:
            if config.agent_id and config.agent_id != token.agent_id:
                raise AgentConfigError(
                    f"the agent token in {state_dir} was issued for {token.agent_id!r}, not "
                    f"{config.agent_id!r}; enrol again or drop agent_id"
                )
            config.agent_id = token.agent_id
        self.sender = Sender(
            config.collector,
            config.insecure,
            TlsFiles(config.ca, config.cert, config.key, config.allow_readable_key),
            token=token.token if token else None,
        )
        self.backoff = Backoff()

    def scan_into_spool(self, interval: int = 0) -> int:
        """Scan, number and spool a snapshot; returns its sequence. Its usage holds the days changed since
        the snapshot the collector last said it holds, or every day when there is none."""
        since = self.state.usage_since()
        done = scan_usage(self.host, scan_options(self.config, interval, self.state_dir, since))
        snapshot = done.snapshot
        if self.state.agent_id != snapshot.agent_id:
            self.state.agent_id = snapshot.agent_id
        snapshot.usage_base = self.state.usage_base if done.changed_only else 0
        snapshot.sequence = self.state.next_sequence(done.usage_mark)
        self.spool.put(snapshot.sequence, snapshot_to_wire(snapshot).SerializeToString())
        return snapshot.sequence

    def flush(self) -> Ack | None:
        """Send every spooled snapshot, oldest first; returns the last ack (None if the spool was empty).

        A snapshot refused for good is set aside (Spool.set_aside) and the next one goes on. Raises
        SendError when one cannot be sent now; it and the newer ones stay spooled.
        """
        last: Ack | None = None
        for _ in range(4 * self.spool.max_entries + 4):  # each turn removes or renumbers one entry
            sequences = self.spool.sequences()
            if not sequences:
                return last
            sequence = sequences[0]
            try:
                message = pb.Snapshot.FromString(self.spool.read(sequence))
            except (OSError, DecodeError) as e:
                self.spool.set_aside(sequence, f"cannot be read back: {e}")
                continue
            message.coalesced = self.spool.coalesced
            try:
                last = self.sender.send_message(message)
            except SendError as e:
                if e.code == grpc.StatusCode.ALREADY_EXISTS and e.last_sequence is not None:
                    self._renumber(sequence, message, e.last_sequence, "its sequence was already used")
                    continue
                why = self._refused_for_good(message, e)
                if why:
                    self.spool.set_aside(sequence, why)
                    continue
                raise
            self.spool.remove(sequence)
            self.spool.coalesced = 0
            self.usage_lags = self.state.acknowledged(sequence, message.usage_base, last.usage_through)
            log.info(
                "sent snapshot agent=%s seq=%d apps=%d errors=%d to %s%s",
                message.agent_id,
                sequence,
                len(message.apps),
                len(message.errors),
                self.config.collector,
                " (duplicate)"
                if last.duplicate
                else " (older than the collector's newest)"
                if last.stale
                else "",
            )
            if last.stale and last.last_sequence and sequence == sequences[-1]:
                # Our sequence fell behind the collector's (state restored from a backup?): resend our newest.
                self._renumber(
                    sequence, message, last.last_sequence, "it was older than the collector's newest"
                )
        return last

    def _refused_for_good(self, message: pb.Snapshot, error: SendError) -> str:
        """Why this snapshot can never be accepted ("" when the refusal is about the agent, not it)."""
        if error.code == grpc.StatusCode.INVALID_ARGUMENT:
            return f"the collector refused it as invalid: {error.details}"
        current = self.config.agent_id or self.state.agent_id
        if error.code in _IDENTITY_REFUSALS and current and message.agent_id != current:
            return (
                f"written as agent {message.agent_id!r}, and this agent is now {current!r}; "
                f"the collector answered {error.code.name}: {error.details}"
            )
        return ""

    def _renumber(self, sequence: int, message: pb.Snapshot, collector_last: int, why: str) -> None:
        self.state.sequence = max(self.state.sequence, collector_last)
        message.sequence = self.state.next_sequence(self.state.marks.pop(sequence, None))
        log.warning("snapshot %d renumbered %d because %s", sequence, message.sequence, why)
        self.spool.put(message.sequence, message.SerializeToString())
        self.spool.remove(sequence)

    def report_once(self, interval: int = 0) -> Ack:
        ack = self._report(interval)
        if self.usage_lags:  # the collector lacked the usage this snapshot was relative to
            log.info(_USAGE_LAGS)
            ack = self._report(interval)
        return ack

    def _report(self, interval: int) -> Ack:
        self._send_waiting()
        sequence = self.scan_into_spool(interval)
        try:
            ack = self.flush()
        except SendError as e:
            waiting = len(self.spool)
            raise SendError(
                e.code,
                f"{e.details} (snapshot {sequence} is kept in the spool with {waiting - 1} "
                f"other(s) and sent on the next run)"
                if e.retryable
                else e.details,
                e.retry_after,
                e.last_sequence,
            ) from None
        assert ack is not None
        return ack

    def _send_waiting(self) -> None:
        """What waits in the spool goes before anything new is written: a scan writes the state and the
        spool, and a full state disk must not keep what is already there from going out."""
        if len(self.spool):
            try:
                self.flush()
            except SendError as e:
                log.debug("spooled snapshots not sent yet: %s", e)

    def run_forever(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        interval = self.config.interval_seconds
        # Spread a fleet that starts at once (e.g. after a mass deploy).
        stop.wait(random.uniform(0, self.config.jitter_seconds))
        next_scan = time.monotonic()
        resent = False  # the last scan was made early, because the collector lacked the usage before it
        while not stop.is_set():
            if time.monotonic() >= next_scan:
                next_scan = time.monotonic() + interval + random.uniform(0, self.config.jitter_seconds)
                self._send_waiting()
                try:
                    self.scan_into_spool(interval)
                except Exception:
                    log.exception("scan failed; will try again next interval")
            try:
                self.flush()
                self.backoff.reset()
                lags, self.usage_lags = self.usage_lags, False
                if lags and not resent:  # at most one early scan in a row
                    log.info(_USAGE_LAGS)
                    next_scan, resent = time.monotonic(), True
                elif not lags:
                    resent = False
                wait = next_scan - time.monotonic()
            except SendError as e:
                if e.retryable:
                    wait = min(self.backoff.next(e.retry_after), max(next_scan - time.monotonic(), 0.0) + 1.0)
                    log.warning(
                        "report failed: %s; %d snapshot(s) spooled, retrying in %.1f s",
                        e,
                        len(self.spool),
                        wait,
                    )
                else:
                    log.error("report refused: %s; trying again next interval", e)
                    wait = next_scan - time.monotonic()
            except Exception:
                log.exception("sending failed; will try again next interval")
                wait = next_scan - time.monotonic()
            stop.wait(max(wait, 0.05))

    def close(self) -> None:
        self.sender.close()
