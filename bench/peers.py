"""The peers: other WebDAV servers on their own copy of the tree, run only where they are installed."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.servers import HOST, Server, free_port, start_process

NGINX_DAV_EXT = "ngx_http_dav_ext_module.so"
NGINX_CONF = """\
daemon off;
master_process off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log;
load_module {modules}/{dav_ext};
events {{ worker_connections 256; }}
http {{
    dav_ext_lock_zone zone=bench:10m;
    access_log {workdir}/nginx-access.log;
    client_body_temp_path {workdir}/nginx-body;
    default_type application/octet-stream;
    sendfile on;  # as in Debian's own nginx.conf
    server {{
        listen {host}:{port};
        root {root};
        dav_methods PUT DELETE MKCOL COPY MOVE;
        dav_ext_methods PROPFIND OPTIONS LOCK UNLOCK;
        dav_ext_lock zone=bench;
        create_full_put_path on;
        client_max_body_size 200m;
    }}
}}
"""

APACHE = "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
APACHE_USER = "nobody"  # who Apache runs as when the bench runs as root
# Debian's defaults (event MPM, its default thread counts) with only what WebDAV needs loaded.
APACHE_CONF = """\
ServerName {host}
Listen {host}:{port}
PidFile {home}/apache.pid
DefaultRuntimeDir {home}
ErrorLog {home}/error.log
LogLevel warn
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule dav_module {modules}/mod_dav.so
LoadModule dav_fs_module {modules}/mod_dav_fs.so
TypesConfig /etc/mime.types
# Unlimited requests per connection, as nginx (1,000) and the Python servers nearly are.
MaxKeepAliveRequests 0
DavLockDB {home}/DavLock
DocumentRoot {root}
<Directory {root}>
    Dav On
    Options None
    AllowOverride None
    Require all granted
</Directory>
"""


@dataclass(frozen=True)
class Peer:
    name: str
    missing: Callable[[], str | None]  # why it cannot run on this machine, or None
    start: Callable[[Path, Path], Server]  # (workdir, its own tree)


def _rclone_missing() -> str | None:
    return None if shutil.which("rclone") else "rclone is not installed (Debian package rclone)"


def _start_rclone(workdir: Path, root: Path) -> Server:
    """`rclone serve webdav`, anonymous."""
    port = free_port()
    # Its own (absent) config file: the bench never reads a developer's rclone remotes.
    command = [shutil.which("rclone"), "serve", "webdav", "--addr", f"{HOST}:{port}",
               "--config", str(workdir / "rclone.conf"), str(root)]  # fmt: skip
    return start_process("rclone", command, port, None, workdir)


def _nginx() -> str | None:
    # Debian puts nginx in /usr/sbin, which a user's PATH may lack.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def _nginx_modules(nginx: str) -> Path | None:
    """The folder of nginx's dynamic modules, if it was built with DAV and has the dav-ext module there."""
    build = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    modules = re.search(r"--modules-path=(\S+)", build)
    if "--with-http_dav_module" in build and modules and (Path(modules[1]) / NGINX_DAV_EXT).is_file():
        return Path(modules[1])
    return None


def _nginx_missing() -> str | None:
    nginx = _nginx()
    if not nginx:
        return "nginx is not installed (Debian packages nginx-light and libnginx-mod-http-dav-ext)"
    if not _nginx_modules(nginx):
        return "nginx lacks the dav or dav-ext module (Debian package libnginx-mod-http-dav-ext)"
    return None


def _start_nginx(workdir: Path, root: Path) -> Server:
    """nginx with the dav and dav-ext modules, a single process in the foreground: its pid is the server."""
    nginx = _nginx()
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(NGINX_CONF.format(workdir=workdir, modules=_nginx_modules(nginx), dav_ext=NGINX_DAV_EXT,
                                        host=HOST, port=port, root=root))  # fmt: skip
    # -e: the error log from before the config is read goes to the temp dir too, not /var/log/nginx.
    command = [nginx, "-p", str(workdir), "-c", str(config), "-e", str(workdir / "nginx-error.log")]
    return start_process("nginx", command, port, None, workdir)


def _apache_missing() -> str | None:
    if not Path(APACHE).is_file():
        return "Apache is not installed (Debian package apache2)"
    if not all((APACHE_MODULES / f"mod_{m}.so").is_file() for m in ("dav", "dav_fs", "mpm_event")):
        return f"Apache lacks mod_dav, mod_dav_fs or the event MPM in {APACHE_MODULES}"
    return None


def _start_apache(workdir: Path, root: Path) -> Server:
    """Apache with mod_dav and mod_dav_fs in the foreground (-DFOREGROUND: its parent and its children).

    Never as root: when the bench runs as root, Apache runs as nobody, which then owns its tree.
    """
    port = free_port()
    home = workdir / "apache"
    home.mkdir()
    config = home / "apache2.conf"
    config.write_text(APACHE_CONF.format(host=HOST, port=port, home=home, modules=APACHE_MODULES, root=root))
    command = [APACHE, "-f", str(config), "-DFOREGROUND"]
    if os.geteuid() == 0:
        account = pwd.getpwnam(APACHE_USER)
        workdir.chmod(0o711)  # nobody passes through the bench's folder to its own
        for path in (home, root):
            _chown_tree(path, account.pw_uid, account.pw_gid)
        command = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups", *command]
    return start_process("apache", command, port, None, workdir)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for folder, names, files in os.walk(path):
        for name in names + files:
            os.chown(os.path.join(folder, name), uid, gid)


PEERS = [
    Peer("apache", _apache_missing, _start_apache),
    Peer("nginx", _nginx_missing, _start_nginx),
    Peer("rclone", _rclone_missing, _start_rclone),
]
