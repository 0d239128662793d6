"""Java web archives: what a .war (or .jar) file is, from what it bundles, read through the Host seam."""

from __future__ import annotations

import zipfile

from ronda.agent.host import Host, HostError
from ronda.agent.inspect.files import Files, Problem, reason
from ronda.agent.inspect.literals import manifest
from ronda.agent.inspect.manifests import best_product, java_archive
from ronda.model import Framework

_MANIFEST = "META-INF/MANIFEST.MF"
_MAX_MANIFEST = 64 * 1024


def war_fingerprint(host: Host, path: str, seen: list[Files]) -> Framework | None:
    f = Files(host, path)
    seen.append(f)
    if not f.is_file(""):
        return None
    best = best_product(java_archive(f))
    if best:
        product, c = best
        return Framework(product.name, c.version, c.evidence, product.language or "java", "manifest")
    if f.problems:
        return None
    try:
        with host.open_binary(path) as raw, zipfile.ZipFile(raw) as archive:
            try:
                info = archive.getinfo(_MANIFEST)
            except KeyError:
                return Framework("java-webapp", "", path, "java")
            with archive.open(info) as member:
                text = member.read(_MAX_MANIFEST).decode("utf-8", "replace")
    except HostError as e:
        f.problems.append(Problem(path, reason(e, path)))
        return None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        f.problems.append(Problem(path, f"not a readable web archive ({type(e).__name__})"))
        return None
    return from_manifest(manifest(text), f"{path}!/{_MANIFEST}")


def from_manifest(fields: dict[str, str], evidence: str) -> Framework:
    if fields.get("Spring-Boot-Version"):
        return Framework("spring-boot", fields["Spring-Boot-Version"], evidence, "java", "manifest")
    title = fields.get("Implementation-Title") or fields.get("Bundle-Name") or "java-webapp"
    version = fields.get("Implementation-Version") or fields.get("Bundle-Version") or ""
    return Framework(title, version, evidence, "java")
