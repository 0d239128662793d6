import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Source(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_UNSPECIFIED: _ClassVar[Source]
    SOURCE_AGENT: _ClassVar[Source]
    SOURCE_SSH: _ClassVar[Source]

class Coverage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COVERAGE_UNSPECIFIED: _ClassVar[Coverage]
    COVERAGE_NONE: _ClassVar[Coverage]
    COVERAGE_UNREADABLE: _ClassVar[Coverage]
    COVERAGE_PARTIAL: _ClassVar[Coverage]
    COVERAGE_FULL: _ClassVar[Coverage]
SOURCE_UNSPECIFIED: Source
SOURCE_AGENT: Source
SOURCE_SSH: Source
COVERAGE_UNSPECIFIED: Coverage
COVERAGE_NONE: Coverage
COVERAGE_UNREADABLE: Coverage
COVERAGE_PARTIAL: Coverage
COVERAGE_FULL: Coverage

class Snapshot(_message.Message):
    __slots__ = ("agent_id", "sequence", "report_id", "collected_at", "agent_version", "source", "host", "apps", "listeners", "errors", "interval_seconds", "coalesced", "usage_base")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_AT_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    APPS_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    COALESCED_FIELD_NUMBER: _ClassVar[int]
    USAGE_BASE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    sequence: int
    report_id: str
    collected_at: _timestamp_pb2.Timestamp
    agent_version: str
    source: Source
    host: HostFacts
    apps: _containers.RepeatedCompositeFieldContainer[App]
    listeners: _containers.RepeatedCompositeFieldContainer[Listener]
    errors: _containers.RepeatedCompositeFieldContainer[SourceError]
    interval_seconds: int
    coalesced: int
    usage_base: int
    def __init__(self, agent_id: _Optional[str] = ..., sequence: _Optional[int] = ..., report_id: _Optional[str] = ..., collected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agent_version: _Optional[str] = ..., source: _Optional[_Union[Source, str]] = ..., host: _Optional[_Union[HostFacts, _Mapping]] = ..., apps: _Optional[_Iterable[_Union[App, _Mapping]]] = ..., listeners: _Optional[_Iterable[_Union[Listener, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[SourceError, _Mapping]]] = ..., interval_seconds: _Optional[int] = ..., coalesced: _Optional[int] = ..., usage_base: _Optional[int] = ...) -> None: ...

class ReportAck(_message.Message):
    __slots__ = ("accepted", "duplicate", "stale", "sequence", "message", "usage_through")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    USAGE_THROUGH_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    duplicate: bool
    stale: bool
    sequence: int
    message: str
    usage_through: int
    def __init__(self, accepted: _Optional[bool] = ..., duplicate: _Optional[bool] = ..., stale: _Optional[bool] = ..., sequence: _Optional[int] = ..., message: _Optional[str] = ..., usage_through: _Optional[int] = ...) -> None: ...

class EnrolRequest(_message.Message):
    __slots__ = ("agent_id", "secret", "machine_id", "hostname")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    secret: str
    machine_id: str
    hostname: str
    def __init__(self, agent_id: _Optional[str] = ..., secret: _Optional[str] = ..., machine_id: _Optional[str] = ..., hostname: _Optional[str] = ...) -> None: ...

class EnrolReply(_message.Message):
    __slots__ = ("agent_id", "token", "status", "message")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    token: str
    status: str
    message: str
    def __init__(self, agent_id: _Optional[str] = ..., token: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class HostFacts(_message.Message):
    __slots__ = ("machine_id", "hostname", "fqdn", "addresses", "os_name", "os_version", "kernel", "architecture", "boot_time", "cpu_count", "memory_total_bytes", "memory_used_bytes", "disks")
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    FQDN_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    OS_NAME_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    BOOT_TIME_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISKS_FIELD_NUMBER: _ClassVar[int]
    machine_id: str
    hostname: str
    fqdn: str
    addresses: _containers.RepeatedScalarFieldContainer[str]
    os_name: str
    os_version: str
    kernel: str
    architecture: str
    boot_time: _timestamp_pb2.Timestamp
    cpu_count: int
    memory_total_bytes: int
    memory_used_bytes: int
    disks: _containers.RepeatedCompositeFieldContainer[Disk]
    def __init__(self, machine_id: _Optional[str] = ..., hostname: _Optional[str] = ..., fqdn: _Optional[str] = ..., addresses: _Optional[_Iterable[str]] = ..., os_name: _Optional[str] = ..., os_version: _Optional[str] = ..., kernel: _Optional[str] = ..., architecture: _Optional[str] = ..., boot_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cpu_count: _Optional[int] = ..., memory_total_bytes: _Optional[int] = ..., memory_used_bytes: _Optional[int] = ..., disks: _Optional[_Iterable[_Union[Disk, _Mapping]]] = ...) -> None: ...

class Disk(_message.Message):
    __slots__ = ("mountpoint", "device", "fstype", "total_bytes", "used_bytes")
    MOUNTPOINT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    FSTYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    mountpoint: str
    device: str
    fstype: str
    total_bytes: int
    used_bytes: int
    def __init__(self, mountpoint: _Optional[str] = ..., device: _Optional[str] = ..., fstype: _Optional[str] = ..., total_bytes: _Optional[int] = ..., used_bytes: _Optional[int] = ...) -> None: ...

class App(_message.Message):
    __slots__ = ("key", "kind", "server_names", "listen", "path_prefix", "root", "upstream", "config", "access_logs", "framework", "resources", "usage", "tls", "database", "parent_key", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SERVER_NAMES_FIELD_NUMBER: _ClassVar[int]
    LISTEN_FIELD_NUMBER: _ClassVar[int]
    PATH_PREFIX_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ACCESS_LOGS_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    PARENT_KEY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    key: str
    kind: str
    server_names: _containers.RepeatedScalarFieldContainer[str]
    listen: _containers.RepeatedCompositeFieldContainer[ListenAddress]
    path_prefix: str
    root: str
    upstream: str
    config: ConfigLocation
    access_logs: _containers.RepeatedCompositeFieldContainer[LogRef]
    framework: Framework
    resources: Resources
    usage: Usage
    tls: TlsCertificate
    database: Database
    parent_key: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, key: _Optional[str] = ..., kind: _Optional[str] = ..., server_names: _Optional[_Iterable[str]] = ..., listen: _Optional[_Iterable[_Union[ListenAddress, _Mapping]]] = ..., path_prefix: _Optional[str] = ..., root: _Optional[str] = ..., upstream: _Optional[str] = ..., config: _Optional[_Union[ConfigLocation, _Mapping]] = ..., access_logs: _Optional[_Iterable[_Union[LogRef, _Mapping]]] = ..., framework: _Optional[_Union[Framework, _Mapping]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., tls: _Optional[_Union[TlsCertificate, _Mapping]] = ..., database: _Optional[_Union[Database, _Mapping]] = ..., parent_key: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListenAddress(_message.Message):
    __slots__ = ("address", "port", "tls", "default_server")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_SERVER_FIELD_NUMBER: _ClassVar[int]
    address: str
    port: int
    tls: bool
    default_server: bool
    def __init__(self, address: _Optional[str] = ..., port: _Optional[int] = ..., tls: _Optional[bool] = ..., default_server: _Optional[bool] = ...) -> None: ...

class ConfigLocation(_message.Message):
    __slots__ = ("file", "line")
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    file: str
    line: int
    def __init__(self, file: _Optional[str] = ..., line: _Optional[int] = ...) -> None: ...

class LogRef(_message.Message):
    __slots__ = ("path", "format")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    path: str
    format: str
    def __init__(self, path: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class Framework(_message.Message):
    __slots__ = ("name", "version", "evidence_file", "language", "evidence_kind", "package", "package_version", "release_cycle", "end_of_support", "latest_in_cycle", "support_source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FILE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_KIND_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_VERSION_FIELD_NUMBER: _ClassVar[int]
    RELEASE_CYCLE_FIELD_NUMBER: _ClassVar[int]
    END_OF_SUPPORT_FIELD_NUMBER: _ClassVar[int]
    LATEST_IN_CYCLE_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    evidence_file: str
    language: str
    evidence_kind: str
    package: str
    package_version: str
    release_cycle: str
    end_of_support: str
    latest_in_cycle: str
    support_source: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., evidence_file: _Optional[str] = ..., language: _Optional[str] = ..., evidence_kind: _Optional[str] = ..., package: _Optional[str] = ..., package_version: _Optional[str] = ..., release_cycle: _Optional[str] = ..., end_of_support: _Optional[str] = ..., latest_in_cycle: _Optional[str] = ..., support_source: _Optional[str] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("processes", "cpu_seconds", "rss_bytes", "disk_bytes", "file_count", "disk_walk_truncated", "newest_mtime", "newest_file")
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    CPU_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DISK_WALK_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    NEWEST_MTIME_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FILE_FIELD_NUMBER: _ClassVar[int]
    processes: _containers.RepeatedCompositeFieldContainer[ProcessRef]
    cpu_seconds: float
    rss_bytes: int
    disk_bytes: int
    file_count: int
    disk_walk_truncated: bool
    newest_mtime: _timestamp_pb2.Timestamp
    newest_file: str
    def __init__(self, processes: _Optional[_Iterable[_Union[ProcessRef, _Mapping]]] = ..., cpu_seconds: _Optional[float] = ..., rss_bytes: _Optional[int] = ..., disk_bytes: _Optional[int] = ..., file_count: _Optional[int] = ..., disk_walk_truncated: _Optional[bool] = ..., newest_mtime: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., newest_file: _Optional[str] = ...) -> None: ...

class ProcessRef(_message.Message):
    __slots__ = ("pid", "name", "user", "unit", "container", "cpu_seconds", "rss_bytes", "role")
    PID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    CPU_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    pid: int
    name: str
    user: str
    unit: str
    container: str
    cpu_seconds: float
    rss_bytes: int
    role: str
    def __init__(self, pid: _Optional[int] = ..., name: _Optional[str] = ..., user: _Optional[str] = ..., unit: _Optional[str] = ..., container: _Optional[str] = ..., cpu_seconds: _Optional[float] = ..., rss_bytes: _Optional[int] = ..., role: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("coverage", "coverage_start", "coverage_end", "last_request", "last_human_request", "last_human_success", "daily", "logs", "unparsed_lines")
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_START_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_END_FIELD_NUMBER: _ClassVar[int]
    LAST_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LAST_HUMAN_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LAST_HUMAN_SUCCESS_FIELD_NUMBER: _ClassVar[int]
    DAILY_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    UNPARSED_LINES_FIELD_NUMBER: _ClassVar[int]
    coverage: Coverage
    coverage_start: _timestamp_pb2.Timestamp
    coverage_end: _timestamp_pb2.Timestamp
    last_request: _timestamp_pb2.Timestamp
    last_human_request: _timestamp_pb2.Timestamp
    last_human_success: _timestamp_pb2.Timestamp
    daily: _containers.RepeatedCompositeFieldContainer[DailyUsage]
    logs: _containers.RepeatedCompositeFieldContainer[LogSource]
    unparsed_lines: int
    def __init__(self, coverage: _Optional[_Union[Coverage, str]] = ..., coverage_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., coverage_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_request: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_human_request: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_human_success: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., daily: _Optional[_Iterable[_Union[DailyUsage, _Mapping]]] = ..., logs: _Optional[_Iterable[_Union[LogSource, _Mapping]]] = ..., unparsed_lines: _Optional[int] = ...) -> None: ...

class DailyUsage(_message.Message):
    __slots__ = ("date", "human", "bot", "monitor", "error", "scanner", "human_clients")
    DATE_FIELD_NUMBER: _ClassVar[int]
    HUMAN_FIELD_NUMBER: _ClassVar[int]
    BOT_FIELD_NUMBER: _ClassVar[int]
    MONITOR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SCANNER_FIELD_NUMBER: _ClassVar[int]
    HUMAN_CLIENTS_FIELD_NUMBER: _ClassVar[int]
    date: str
    human: int
    bot: int
    monitor: int
    error: int
    scanner: int
    human_clients: int
    def __init__(self, date: _Optional[str] = ..., human: _Optional[int] = ..., bot: _Optional[int] = ..., monitor: _Optional[int] = ..., error: _Optional[int] = ..., scanner: _Optional[int] = ..., human_clients: _Optional[int] = ...) -> None: ...

class LogSource(_message.Message):
    __slots__ = ("path", "format", "status", "error", "oldest_line", "newest_line", "lines", "unparsed_lines")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OLDEST_LINE_FIELD_NUMBER: _ClassVar[int]
    NEWEST_LINE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    UNPARSED_LINES_FIELD_NUMBER: _ClassVar[int]
    path: str
    format: str
    status: str
    error: str
    oldest_line: _timestamp_pb2.Timestamp
    newest_line: _timestamp_pb2.Timestamp
    lines: int
    unparsed_lines: int
    def __init__(self, path: _Optional[str] = ..., format: _Optional[str] = ..., status: _Optional[str] = ..., error: _Optional[str] = ..., oldest_line: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., newest_line: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lines: _Optional[int] = ..., unparsed_lines: _Optional[int] = ...) -> None: ...

class TlsCertificate(_message.Message):
    __slots__ = ("file", "subject", "issuer", "dns_names", "not_after")
    FILE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    DNS_NAMES_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    file: str
    subject: str
    issuer: str
    dns_names: _containers.RepeatedScalarFieldContainer[str]
    not_after: _timestamp_pb2.Timestamp
    def __init__(self, file: _Optional[str] = ..., subject: _Optional[str] = ..., issuer: _Optional[str] = ..., dns_names: _Optional[_Iterable[str]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Database(_message.Message):
    __slots__ = ("engine", "name", "host", "evidence_file")
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FILE_FIELD_NUMBER: _ClassVar[int]
    engine: str
    name: str
    host: str
    evidence_file: str
    def __init__(self, engine: _Optional[str] = ..., name: _Optional[str] = ..., host: _Optional[str] = ..., evidence_file: _Optional[str] = ...) -> None: ...

class Listener(_message.Message):
    __slots__ = ("protocol", "address", "port", "pid", "process", "user", "unit", "container", "app_keys", "public")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    APP_KEYS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    protocol: str
    address: str
    port: int
    pid: int
    process: str
    user: str
    unit: str
    container: str
    app_keys: _containers.RepeatedScalarFieldContainer[str]
    public: bool
    def __init__(self, protocol: _Optional[str] = ..., address: _Optional[str] = ..., port: _Optional[int] = ..., pid: _Optional[int] = ..., process: _Optional[str] = ..., user: _Optional[str] = ..., unit: _Optional[str] = ..., container: _Optional[str] = ..., app_keys: _Optional[_Iterable[str]] = ..., public: _Optional[bool] = ...) -> None: ...

class SourceError(_message.Message):
    __slots__ = ("source", "path", "line", "message")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    source: str
    path: str
    line: int
    message: str
    def __init__(self, source: _Optional[str] = ..., path: _Optional[str] = ..., line: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...
