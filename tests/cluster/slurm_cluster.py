"""A one-node SLURM cluster on localhost (munge, slurmctld, slurmd) for tests and laptops.

`python -m tests.cluster.slurm_cluster up <folder>` starts it and prints the `export SLURM_CONF=...`
line; `down <folder>` stops the daemons by their PIDs. The pytest fixture in tests/cluster/conftest.py
uses the same two functions. Debian/Ubuntu packages: slurm-wlm and munge (installed if missing, as root).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge", "slurmdbd", "mariadb-server")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
CONF = """\
ClusterName=ash
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={dbd_port}
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerParameters=defer
KillWait=5
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


# sacct (which submitit polls for a job's state) needs accounting: slurmdbd on a private MariaDB
DBD_CONF = """\
AuthType=auth/munge
DbdHost=localhost
DbdPort={dbd_port}
SlurmUser=root
PidFile={d}/slurmdbd.pid
LogFile={d}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass=ash
StorageLoc=slurm_acct_db
"""


class ClusterUnavailable(RuntimeError):
    """The cluster cannot start here (no root, no apt, a daemon refused); the message says why."""


@dataclass
class Cluster:
    folder: Path
    conf: Path
    host: str

    def env(self) -> dict[str, str]:
        """The environment SLURM's client commands (and submitit) need to reach this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install() -> None:
    """apt-get install slurm-wlm and munge where they are missing (needs root and apt)."""
    if all(shutil.which(d) for d in DAEMONS) and shutil.which("sbatch"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ClusterUnavailable("SLURM is not installed and this is not a root shell with apt-get: "
                                 f"install {' '.join(PACKAGES)} (e.g. `sudo apt-get install {' '.join(PACKAGES)}`).")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(["apt-get", "install", "-y", "-q", *PACKAGES], env=env, capture_output=True, text=True)
    if result.returncode != 0:  # an empty package list: update once and try again
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        result = subprocess.run(["apt-get", "install", "-y", "-q", *PACKAGES], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise ClusterUnavailable(f"apt-get install {' '.join(PACKAGES)} failed: {result.stderr[-500:]}")


def _wait(what: str, check, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tail = log.read_text()[-1500:] if log and log.exists() else ""
    raise ClusterUnavailable(f"{what} within {timeout:.0f} s.\n{tail}")


def _node_state(cluster: Cluster) -> str:
    result = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=cluster.env(), capture_output=True, text=True)
    return result.stdout.strip()


def start(folder: Path, cpus: int | None = None) -> Cluster:
    """Start munged, slurmctld and slurmd with a config under `folder`; return when the node is idle."""
    if os.geteuid() != 0:
        raise ClusterUnavailable("the test cluster runs its daemons as root; run as root (or in a container).")
    install()
    folder = Path(folder).resolve()
    for sub in ("state", "spool", "munge", "db"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    ports = {"ctld_port": _free_port(), "slurmd_port": _free_port(), "dbd_port": _free_port(),
             "db_port": _free_port()}
    conf.write_text(CONF.format(host=host, d=folder, cpus=cpus or os.cpu_count(), **ports))
    (folder / "slurmdbd.conf").write_text(DBD_CONF.format(d=folder, **ports))
    (folder / "slurmdbd.conf").chmod(0o600)  # slurmdbd refuses a readable file (it holds the password)
    cluster = Cluster(folder, conf, host)
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True, capture_output=True)
    MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)  # the default socket: SLURM's clients all find it
    if subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:  # else reuse the running munged
        subprocess.run(["munged", "--force", f"--socket={MUNGE_SOCKET}", f"--pid-file={folder}/munged.pid",
                        f"--log-file={folder}/munged.log", f"--seed-file={folder}/munge/seed", f"--key-file={key}"],
                       check=True, capture_output=True)
    _start_database(folder, ports["db_port"])
    env = cluster.env()
    subprocess.run(["slurmdbd"], env=env, check=True, capture_output=True)
    _wait("slurmdbd did not answer", lambda: subprocess.run(["sacctmgr", "-n", "list", "cluster"], env=env,
                                                            capture_output=True).returncode == 0, 60,
          folder / "slurmdbd.log")
    subprocess.run(["slurmctld", "-c", "-f", str(conf)], env=env, check=True, capture_output=True)
    subprocess.run(["slurmd", "-f", str(conf), "-N", host], env=env, check=True, capture_output=True)
    _wait("the node did not become idle", lambda: _node_state(cluster) == "idle", 60, folder / "slurmd.log")
    return cluster


def _start_database(folder: Path, port: int) -> None:
    """A private MariaDB under `folder/db` (TCP on 127.0.0.1:`port`) with the user slurmdbd logs in as."""
    data, sock = folder / "db", folder / "mysql.sock"
    if not (data / "mysql").exists():
        subprocess.run(["mariadb-install-db", f"--datadir={data}", "--user=root", "--skip-test-db"], check=True,
                       capture_output=True)
    subprocess.Popen(["mariadbd", f"--datadir={data}", f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1",
                      f"--pid-file={folder}/mariadbd.pid", f"--log-error={folder}/mariadbd.log", "--user=root",
                      "--innodb-buffer-pool-size=32M", "--skip-name-resolve"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    sql = ["mariadb", f"--socket={sock}", "-uroot", "-e"]
    _wait("MariaDB did not start", lambda: subprocess.run([*sql, "SELECT 1"], capture_output=True).returncode == 0, 60,
          folder / "mariadbd.log")
    subprocess.run([*sql, "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'ash'; "
                          "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"], check=True, capture_output=True)


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(folder: Path) -> None:
    """Cancel every job, then stop slurmd, slurmctld and munged by the PIDs in their pid files."""
    folder = Path(folder).resolve()
    env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}
    subprocess.run(["scancel", "--full", "--user=root"], env=env, capture_output=True)
    for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
        pid = _pid(folder / f"{name}.pid")
        if pid is None or not _alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    """`up <folder>` / `down <folder>`."""
    if len(argv) != 2 or argv[0] not in ("up", "down"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "down":
        stop(Path(argv[1]))
        return 0
    try:
        cluster = start(Path(argv[1]))
    except ClusterUnavailable as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    print(f"export SLURM_CONF={cluster.conf}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
