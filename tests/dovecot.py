"""A real IMAP server (Dovecot) on loopback, started once per test session.

The `dovecot` fixture (session) starts `/usr/sbin/dovecot` with a configuration written into
a temporary folder, on a free port of 127.0.0.1, and stops it by its pid at the end
(/work/shared/REAL-PARTS.md tells which settings work). The `imap_account` fixture gives
each test a fresh account, so tests never see each other's messages: a `static` passdb with
one password for every user name, so that a new name is a new, empty account at once (a
passwd-file would have to be re-read by Dovecot first).

When Dovecot is missing it is installed (`apt-get install dovecot-imapd`) if we are root;
otherwise its tests are skipped with a message saying how to install it, except under CI
(`CI=true`) where a missing or broken Dovecot is a failure.
It is registered as a plugin by tests/conftest.py: every test can ask for it.
"""

import imaplib
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
INSTALL_HINT = "install it with `apt-get install dovecot-imapd` (or `make system-deps` as root)"
START_SECONDS = 20

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{base}/mail/%u
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={internal_user} gid={internal_group} home={base}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class Unavailable(Exception):
    """Dovecot is not installed or does not start here."""


@dataclass(frozen=True)
class Account:
    username: str
    password: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie (a container may not reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _ensure_installed() -> None:
    if os.access(DOVECOT, os.X_OK):
        return
    if os.geteuid() != 0:
        raise Unavailable(f"Dovecot ({DOVECOT}) is not installed: {INSTALL_HINT}.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "dovecot-imapd"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise Unavailable(
                f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr[-2000:]}"
            )
    if not os.access(DOVECOT, os.X_OK):
        raise Unavailable(f"dovecot-imapd is installed but {DOVECOT} is missing.")


class DovecotServer:
    host = "127.0.0.1"

    def __init__(self, base: Path):
        self.base = base
        self.port = _free_port()
        self.pid: int | None = None
        self._numbers = itertools.count(1)
        if os.geteuid() == 0:
            # imap-login refuses to run as root: Dovecot's own users run the processes.
            self._login_user, self._user, self._group = "dovenull", "dovecot", "dovecot"
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name
            self._login_user = self._user = me
            self._group = me
        # One password for every user name: a test gets a new account by using a new name.
        self._password = secrets.token_hex(8)

    # Server life.

    def start(self) -> None:
        self.base.chmod(0o755)  # Dovecot's unprivileged processes must reach their sockets
        for name in ("run", "state", "mail"):
            (self.base / name).mkdir(exist_ok=True)
        shutil.chown(self.base / "mail", self._user, self._group)
        config = self.base / "dovecot.conf"
        config.write_text(
            _CONFIG.format(
                base=self.base,
                port=self.port,
                login_user=self._login_user,
                internal_user=self._user,
                internal_group=self._group,
                password=self._password,
            )
        )
        # Dovecot daemonises: its output goes to a file, never to a pipe it would keep open.
        with open(self.base / "start.log", "wb") as output:
            done = subprocess.run(
                [DOVECOT, "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            raise Unavailable(f"Dovecot did not start: {self._logs()}")
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            pid_file = self.base / "run" / "master.pid"
            if self.pid is None and pid_file.exists():
                text = pid_file.read_text().strip()
                self.pid = int(text) if text.isdigit() else None
            if self.pid is not None and not _running(self.pid):
                raise Unavailable(f"Dovecot stopped right after starting: {self._logs()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    # Ready once the master wrote its pid (stop needs it) and imap-login greets.
                    if sock.recv(100).startswith(b"* OK") and self.pid is not None:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise Unavailable(f"Dovecot did not answer on port {self.port}: {self._logs()}")

    def stop(self) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + START_SECONDS
        while _running(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _running(self.pid):
            os.kill(self.pid, signal.SIGKILL)

    def _logs(self) -> str:
        texts = []
        for name in ("start.log", "dovecot.log"):
            path = self.base / name
            if path.exists():
                texts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(texts) or "(no log)"

    # Accounts and messages.

    def new_account(self) -> Account:
        """A user name never used before: its mail folder is empty."""
        return Account(f"user{next(self._numbers)}", self._password)

    def connect(self, account: Account) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        imap.login(account.username, account.password)
        return imap

    def append(self, account: Account, raw: bytes, folder: str = "INBOX") -> None:
        imap = self.connect(account)
        try:
            typ, data = imap.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            imap.logout()

    def messages(self, account: Account, folder: str = "INBOX") -> list[bytes]:
        """The raw messages of a folder ([] when the folder does not exist)."""
        imap = self.connect(account)
        try:
            typ, _data = imap.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = imap.uid("SEARCH", "ALL")
            found = []
            for uid in data[0].split():
                typ, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                found.extend(part[1] for part in parts if isinstance(part, tuple))
            return found
        finally:
            imap.logout()

    def folders(self, account: Account) -> list[str]:
        imap = self.connect(account)
        try:
            _typ, data = imap.list()
            return [line.decode().rsplit(" ", 1)[1].strip('"') for line in data if line]
        finally:
            imap.logout()


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"Dovecot is needed under CI: {reason}", pytrace=False)
    pytest.skip(f"IMAP tests skipped: {reason}")


@pytest.fixture(scope="session")
def dovecot():
    try:
        _ensure_installed()
    except Unavailable as error:
        _unavailable(str(error))
    base = Path(tempfile.mkdtemp(prefix="qualicite-dovecot-"))
    server = DovecotServer(base)
    try:
        server.start()
    except Unavailable as error:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
        _unavailable(str(error))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def imap_account(dovecot) -> Account:
    return dovecot.new_account()
