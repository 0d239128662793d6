"""Docker: running containers that publish TCP ports, read from the Docker Engine API socket.

Never required: without a socket this source finds nothing. Only the container's
name, id, image, published ports, Compose project/service labels and bind-mount
sources are taken; environment variables and other labels may hold secrets and
are never read.
"""

from __future__ import annotations

import json

from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.host import Host, HostError
from ronda.model import App, ConfigLocation, Framework, ListenAddress

SOURCE = "docker"
SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock")
_COMPOSE = {"com.docker.compose.project": "compose_project", "com.docker.compose.service": "compose_service"}
# Where images keep the code they serve: a bind mount onto one of these is the app's root.
_CODE_DESTINATIONS = (
    "/var/www/html",
    "/var/www",
    "/usr/share/nginx/html",
    "/usr/local/apache2/htdocs",
    "/app",
    "/usr/src/app",
    "/srv/app",
    "/srv",
    "/code",
    "/opt/app",
    "/home/node/app",
)


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    explicit = options.docker_socket
    candidates = (explicit,) if explicit else SOCKETS
    socket_path = next((p for p in candidates if host.exists(p)), "")
    if not socket_path:
        return result
    try:
        containers = json.loads(host.http_unix(socket_path, "/containers/json"))
    except HostError as e:
        result.error(SOURCE, f"cannot list containers: {str(e).rsplit(': ', 1)[-1]}", socket_path)
        return result
    except ValueError:
        result.error(SOURCE, "the Docker API answered something other than JSON", socket_path)
        return result
    if not isinstance(containers, list):
        result.error(SOURCE, "the Docker API answered an unexpected shape", socket_path)
        return result
    for container in containers:
        if isinstance(container, dict):
            app = _app(container, socket_path)
            if app:
                result.apps.append(app)
    return result


def _app(container: dict, socket_path: str) -> App | None:
    listen: list[ListenAddress] = []
    for port in container.get("Ports") or []:
        if not isinstance(port, dict) or port.get("Type", "tcp") != "tcp" or not port.get("PublicPort"):
            continue
        ip = str(port.get("IP") or "")
        address = ListenAddress("*" if ip in ("", "0.0.0.0", "::") else ip, int(port["PublicPort"]))
        if all((a.address, a.port) != (address.address, address.port) for a in listen):
            listen.append(address)
    if not listen:
        return None
    names = [str(n).lstrip("/") for n in container.get("Names") or [] if n]
    cid = str(container.get("Id") or "")[:12]
    labels_in = container.get("Labels")
    if not isinstance(labels_in, dict):
        labels_in = {}
    labels = {"container": cid, "image": str(container.get("Image") or "")}
    labels.update({out: str(labels_in[k]) for k, out in _COMPOSE.items() if k in labels_in})
    if container.get("State"):
        labels["status"] = str(container["State"])
    config_files = str(labels_in.get("com.docker.compose.project.config_files") or "").split(",")[0]
    app = App(
        kind=SOURCE,
        server_names=[names[0] if names else cid],
        listen=sorted(listen, key=lambda a: a.port),
        root=_code_mount(container),
        config=ConfigLocation(file=config_files),
        labels=labels,
    )
    if not app.root:
        app.framework = _image_framework(labels["image"], socket_path)
    return app


def _code_mount(container: dict) -> str:
    for mount in container.get("Mounts") or []:
        if (
            isinstance(mount, dict)
            and mount.get("Type") == "bind"
            and mount.get("Destination") in _CODE_DESTINATIONS
        ):
            return str(mount.get("Source") or "")
    return ""


def _image_framework(image: str, socket_path: str) -> Framework:
    """What the image says it is: nginx:1.25 -> (nginx, 1.25); a digest or no tag gives no version."""
    ref = image.split("@", 1)[0]
    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
    name = repo.rsplit("/", 1)[-1] or image
    return Framework(
        name=name, version="" if tag == "latest" else tag, evidence_file=socket_path, language=""
    )
