"""The peers: other WebDAV servers on their own copy of the tree, run only where they are installed."""

from __future__ import annotations

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
    access_log {workdir}/nginx-access.log;
    client_body_temp_path {workdir}/nginx-body;
    default_type application/octet-stream;
    sendfile on;  # as in Debian's own nginx.conf
    server {{
        listen {host}:{port};
        root {root};
        dav_methods PUT DELETE MKCOL COPY MOVE;
        dav_ext_methods PROPFIND OPTIONS;
        create_full_put_path on;
        client_max_body_size 200m;
    }}
}}
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


PEERS = [Peer("rclone", _rclone_missing, _start_rclone), Peer("nginx", _nginx_missing, _start_nginx)]
