"""The rpm side of package ownership, on real rpm databases: a package built with rpmbuild the way
RHEL's zabbix-web ships the Zabbix frontend, recorded with rpm itself, then asked about two ways:
`rpm -qf` on a host that can run rpm, and the SQLite rpmdb (RHEL 9's `/var/lib/rpm/rpmdb.sqlite`)
read as a file on a host that cannot (a `--root` copy of the server).

Debian's rpm keeps its database in ~/.rpmdb (SQLite, as RHEL 9's): the tests point HOME at their own
directory, so the system's database is never touched.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ronda.agent.host import LocalHost
from ronda.agent.inspect.fingerprints import fingerprint
from ronda.agent.inspect.identify import identify
from ronda.agent.inspect.packages import PackageIndex, rpmdb_packages
from ronda.model import App

pytestmark = pytest.mark.servers  # runs dpkg-query, rpm and rpmbuild

SPEC = """\
Name: zabbix-web
Version: 6.0.25
Release: 1.el9
Summary: Zabbix web frontend, as RHEL's EPEL packages it
License: GPLv2+
BuildArch: noarch
%description
Zabbix web frontend.
%install
mkdir -p %{buildroot}PREFIX/usr/share/zabbix/include
echo "<?php" > %{buildroot}PREFIX/usr/share/zabbix/index.php
printf "<?php\\ndefine('ZABBIX_VERSION', '6.0.25');\\n" \\
  > %{buildroot}PREFIX/usr/share/zabbix/include/defines.inc.php
%files
PREFIX/usr/share/zabbix
"""


def build_and_record(home: Path, prefix: str) -> Path:
    """rpmbuild the package with its files under `prefix`, and record it in `home`/.rpmdb with rpm -i."""
    home.mkdir(parents=True, exist_ok=True)
    spec = home / "zabbix-web.spec"
    spec.write_text(SPEC.replace("PREFIX", prefix))
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        ["rpmbuild", "--define", f"_topdir {home}/build", "-bb", str(spec)],
        env=env,
        check=True,
        capture_output=True,
    )
    [rpm] = (home / "build/RPMS/noarch").glob("*.rpm")
    subprocess.run(["rpm", "-i", "--justdb", "--nodeps", str(rpm)], env=env, check=True, capture_output=True)
    return home / ".rpmdb"


@pytest.fixture()
def live_rpm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    prefix = tmp_path / "server"
    build_and_record(tmp_path / "home", str(prefix))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    app = prefix / "usr/share/zabbix"
    (app / "include").mkdir(parents=True)
    (app / "index.php").write_text("<?php\n")
    (app / "include/defines.inc.php").write_text("<?php\ndefine('ZABBIX_VERSION',\t\t'6.0.25');\n")
    return app


def test_rpm_qf_names_the_owner(live_rpm: Path) -> None:
    owner = PackageIndex(LocalHost()).owner(str(live_rpm))
    assert owner is not None
    assert (owner.system, owner.name, owner.version, owner.upstream) == (
        "rpm",
        "zabbix-web",
        "6.0.25-1.el9",
        "6.0.25",
    )
    assert owner.database == "/var/lib/rpm"  # what rpm -qf reads


def test_app_owned_by_an_rpm(live_rpm: Path) -> None:
    app = App(kind="apache", root=str(live_rpm), framework=fingerprint(LocalHost(), str(live_rpm)))
    identify(LocalHost(), [app], PackageIndex(LocalHost()), [])
    fw = app.framework
    assert (fw.name, fw.version, fw.package, fw.package_version) == (
        "zabbix",
        "6.0.25",
        "rpm:zabbix-web",
        "6.0.25-1.el9",
    )
    assert (fw.release_cycle, fw.end_of_support) == ("6.0", "2027-02-28")


def test_a_path_no_package_owns(live_rpm: Path, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    assert PackageIndex(LocalHost()).owner(str(tmp_path / "mine")) is None


def test_rhel9_rpmdb_read_as_a_file(tmp_path: Path) -> None:
    """A copy of a RHEL 9 server under --root: no command runs, rpmdb.sqlite is read through the host seam."""
    db = build_and_record(tmp_path / "home", "")
    server = tmp_path / "server"
    (server / "var/lib/rpm").mkdir(parents=True)
    for f in db.glob("rpmdb.sqlite*"):
        shutil.copy(f, server / "var/lib/rpm" / f.name)
    app = server / "usr/share/zabbix/include"
    app.mkdir(parents=True)
    (app / "defines.inc.php").write_text("<?php\ndefine('ZABBIX_VERSION',\t\t'6.0.25');\n")
    host = LocalHost(str(server))
    owner = PackageIndex(host).owner("/usr/share/zabbix")
    assert owner is not None
    assert (owner.name, owner.version, owner.database) == (
        "zabbix-web",
        "6.0.25-1.el9",
        "/var/lib/rpm/rpmdb.sqlite",
    )


def test_rpm_headers_decode_as_rpm_reads_them(tmp_path: Path) -> None:
    """Every file path ronda decodes from the database is one rpm -ql lists for the package."""
    db = build_and_record(tmp_path / "home", "")
    [(name, version, files)] = rpmdb_packages((db / "rpmdb.sqlite").read_bytes())
    listed = subprocess.run(
        ["rpm", "-ql", "zabbix-web"],
        env={"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert (name, version) == ("zabbix-web", "6.0.25-1.el9")
    assert sorted(files) == sorted(listed)
