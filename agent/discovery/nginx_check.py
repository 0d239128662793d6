"""Check a parsed nginx configuration as `nginx -t` would, where ronda reads the files itself.

The includes are spliced in place first, so every directive is checked in the
context nginx sees it in: an unknown or misspelt directive, a directive where
nginx does not allow it, a wrong number of arguments, a missing `;` (which
glues two directives into one) and a `listen` parameter nginx does not know.
crossplane's directive table ends around nginx 1.15; directives added since,
and those of the third-party modules distributions ship, are added here so
that a valid config is not reported.
"""

from __future__ import annotations

from typing import Any

from crossplane.analyzer import CONTEXTS, DIRECTIVES, analyze, enter_block_ctx
from crossplane.errors import NgxParserBaseException

Statement = dict[str, Any]
Problem = tuple[str, int, str]  # (file, line, message)

# nginx directives newer than crossplane's table (nginx.org's directive index, 1.15.6 to 1.27).
NEWER_DIRECTIVES = frozenset(
    {
        "http2",
        "http3",
        "http3_hq",
        "http3_max_concurrent_streams",
        "http3_stream_buffer_size",
        "quic_active_connection_id_limit",
        "quic_bpf",
        "quic_gso",
        "quic_host_key",
        "quic_retry",
        "ssl_reject_handshake",
        "ssl_conf_command",
        "proxy_ssl_conf_command",
        "grpc_ssl_conf_command",
        "uwsgi_ssl_conf_command",
        "keepalive_time",
        "limit_req_dry_run",
        "limit_conn_dry_run",
        "auth_delay",
        "proxy_socket_keepalive",
        "fastcgi_socket_keepalive",
        "grpc_socket_keepalive",
        "memcached_socket_keepalive",
        "scgi_socket_keepalive",
        "uwsgi_socket_keepalive",
        "proxy_requests",
        "proxy_half_close",
        "ssl_alpn",
        "ssl_ocsp",
        "ssl_ocsp_cache",
        "ssl_ocsp_responder",
        "mp4_start_key_frame",
        "userid_flags",
        "pass",
        "ssl_certificate_cache",
        "ssl_object_cache_inheritable",
        "proxy_ssl_certificate_cache",
        "ssl_key_log",
        "proxy_pass_trailers",
        "early_hints",
        "max_headers",
        "ssl_certificate_compression",
        "resolver_timeout",
        "keyval",
        "keyval_zone",
        "proxy_ssl_key_log",
        "grpc_ssl_key_log",
        "uwsgi_ssl_key_log",
        "zone_sync",
        "zone_sync_server",
        "mqtt",
        "mqtt_preread",
        "mqtt_buffers",
        "mqtt_rewrite_buffer_size",
        "mqtt_set_connect",
        "otel_exporter",
        "otel_trace",
        "otel_trace_context",
        "otel_span_name",
        "otel_span_attr",
        "otel_service_name",
    }
)
# Third-party modules Debian, Ubuntu, RHEL (EPEL) and the common control panels ship, by name prefix.
THIRD_PARTY_PREFIXES = (
    "more_",  # headers-more
    "lua_",  # lua / OpenResty
    "js_",  # njs
    "vhost_traffic_status",
    "brotli",
    "geoip2",
    "passenger_",
    "pagespeed",
    "modsecurity",
    "fancyindex",
    "dav_ext_",
    "echo",
    "nchan_",
    "auth_pam",
    "auth_ldap",
    "upload_progress",
    "track_uploads",
    "report_uploads",
    "upload_",
    "push_stream_",
    "srcache_",
    "redis2_",
    "set_",  # set-misc
    "sticky",
    "ndk_",
    "rtmp",
    "naxsi",
    "zstd",
    "cache_purge",
    "proxy_cache_purge",
    "ssl_ct",
    "testcookie",
    "subs_filter",
    "image_filter",
    "headers_more",
    "vod",
    "secure_token",
    "akamai_",
    "njs",
    "otel_",
    "opentracing",
    "waf",
)
THIRD_PARTY_SUFFIXES = ("_by_lua", "_by_lua_block", "_by_lua_file")
THIRD_PARTY_NAMES = frozenset(
    {
        "SecRulesEnabled",
        "SecRulesDisabled",
        "LearningMode",
        "DeniedUrl",
        "BasicRule",
        "MainRule",
        "CheckRule",
        "LibInjectionSql",
        "LibInjectionXss",
        "fair",
        "ntlm",
        "least_time",
        "chunkin",
        "lua",
        "server_traffic_status",
    }
)
LISTEN_FLAGS = frozenset(
    {
        "default_server",
        "default",
        "ssl",
        "http2",
        "http3",
        "quic",
        "spdy",
        "proxy_protocol",
        "reuseport",
        "deferred",
        "bind",
        "udp",
    }
)
LISTEN_VALUED = (
    "ipv6only=",
    "backlog=",
    "rcvbuf=",
    "sndbuf=",
    "accept_filter=",
    "fastopen=",
    "setfib=",
    "so_keepalive=",
)


def known(directive: str) -> bool:
    return (
        directive in DIRECTIVES
        or directive in NEWER_DIRECTIVES
        or directive in THIRD_PARTY_NAMES
        or directive.startswith(THIRD_PARTY_PREFIXES)
        or directive.endswith(THIRD_PARTY_SUFFIXES)
    )


def check(statements: list[Statement]) -> list[Problem]:
    """What nginx -t would refuse (or warn about) in an already spliced configuration."""
    problems: list[Problem] = []
    _check(statements, (), problems)
    return problems


def _check(statements: list[Statement], ctx: tuple[str, ...], problems: list[Problem]) -> None:
    checked = ctx in CONTEXTS  # not inside map, types, geo... whose lines are values, not directives
    for stmt in statements:
        directive, file, line = stmt["directive"], stmt.get("file", ""), stmt.get("line", 0)
        if checked:
            if not known(directive):
                problems.append((file, line, f'unknown directive "{directive}"'))
            else:
                try:
                    analyze(file, stmt, "{" if "block" in stmt else ";", ctx)
                except NgxParserBaseException as e:
                    problems.append((file, line, e.strerror))
            if directive == "listen" and ctx[-1:] == ("server",):
                problems.extend((file, line, m) for m in _listen_problems(stmt.get("args") or []))
            if directive == "server_name" and ctx == ("http", "server"):
                problems.extend(
                    (file, line, f'server name "{name}" has suspicious symbols')
                    for name in stmt.get("args") or []
                    if "/" in name and not name.startswith("~")
                )
        if "block" in stmt:
            _check(stmt["block"], enter_block_ctx(stmt, ctx), problems)


def _listen_problems(args: list[str]) -> list[str]:
    """The first parameter nginx does not know, as nginx names it."""
    wrong = [a for a in args[1:] if a not in LISTEN_FLAGS and not a.startswith(LISTEN_VALUED)]
    return [f'invalid parameter "{wrong[0]}"'] if wrong else []
