"""The agent's reporting loop: scan, number, send; again after the interval."""
from __future__ import annotations

import logging
import random
import threading

from agent.config import AgentConfig
from agent.discovery import DiscoveryOptions
from agent.host import LocalHost
from agent.sender import Ack, Sender, SendError
from agent.snapshot import ScanOptions, scan
from agent.state import AgentState, default_state_dir
from agent.transport import TlsFiles

log = logging.getLogger("ronda.agent")


def scan_options(config: AgentConfig, interval: int = 0) -> ScanOptions:
    return ScanOptions(
        discovery=DiscoveryOptions(nginx_conf=config.nginx_conf, apache_conf=config.apache_conf),
        agent_id=config.agent_id,
        interval_seconds=interval,
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
    def __init__(self, config: AgentConfig) -> None:
        if not config.collector:
            from agent.config import ConfigError
            raise ConfigError("no collector address: give --collector HOST:PORT or set collector in the config")
        self.config = config
        self.host = LocalHost(config.root or None)
        self.state = AgentState.load(config.state_dir or default_state_dir())
        self.sender = Sender(config.collector, config.insecure, TlsFiles(config.ca, config.cert, config.key))

    def report_once(self, interval: int = 0) -> Ack:
        snapshot = scan(self.host, scan_options(self.config, interval))
        if self.state.agent_id != snapshot.agent_id:
            self.state.agent_id = snapshot.agent_id
        snapshot.sequence = self.state.next_sequence()
        ack = self.sender.send(snapshot)
        log.info("sent snapshot agent=%s seq=%d apps=%d errors=%d to %s%s", snapshot.agent_id, snapshot.sequence,
                 len(snapshot.apps), len(snapshot.errors), self.config.collector,
                 " (duplicate)" if ack.duplicate else "")
        return ack

    def run_forever(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        interval = self.config.interval_seconds
        # Spread a fleet that starts at once (e.g. after a mass deploy).
        stop.wait(random.uniform(0, self.config.jitter_seconds))
        while not stop.is_set():
            try:
                self.report_once(interval)
            except SendError as e:
                log.warning("report failed: %s", e)
            except Exception:
                log.exception("scan failed; will try again next interval")
            stop.wait(interval + random.uniform(0, self.config.jitter_seconds))

    def close(self) -> None:
        self.sender.close()
