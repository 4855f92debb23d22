"""A real, single-node Slurm on localhost for the tests: munged + slurmctld + slurmd from Debian.

Everything (config, state, spool, logs, munge key and socket) lives in one temporary folder, the
daemons run in the foreground in their own sessions and are stopped by PID: nothing of the
machine's own Slurm or munge set-up is read or changed. Clients and jobs find this cluster through
the SLURM_CONF environment variable.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol")


def missing_binaries() -> list[str]:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [name for name in DAEMONS if shutil.which(name, path=search) is None]


def which(name: str) -> str:
    return shutil.which(
        name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 4096


# Loopback-only machines (no network, e.g. inside `unshare -n`): Slurm 22.05 resolves every
# address, even "127.0.0.1", with getaddrinfo(AF_INET, AI_ADDRCONFIG), and glibc answers "Name or
# service not known" for AF_INET when no non-loopback IPv4 address is configured. EnableIPv6 (IPv4
# stays on) makes Slurm ask for AF_UNSPEC, which glibc does not narrow down when it sees no
# address at all. Numeric addresses for the controller and the node: nothing needs a name lookup.
SLURM_CONF = """\
ClusterName=localtest
SlurmctldHost=localhost(127.0.0.1)
CommunicationParameters=EnableIPv6
SlurmUser={user}
SlurmdUser={user}
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
InactiveLimit=0
KillWait=5
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


@dataclass
class LocalSlurm:
    root: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.root / "slurm.conf")}

    def start(self, cpus: int = 2, timeout: float = 60) -> LocalSlurm:
        self.root.chmod(0o755)  # munged wants every directory above its socket searchable by all
        for sub in ("state", "spool", "log", "run", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "munge").chmod(0o755)  # munged refuses a socket dir others can write to
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        munge_socket = self.root / "munge" / "munge.socket"
        (self.root / "slurm.conf").write_text(
            SLURM_CONF.format(
                user=getpass.getuser(),
                ctld_port=free_port(),
                slurmd_port=free_port(),
                munge_socket=munge_socket,
                root=self.root,
                cpus=cpus,
                memory=int(memory_mb() * 0.8),
            )  # fmt: skip
        )
        self._spawn([which("munged"), "-F", "--key-file", str(key), "--socket", str(munge_socket),
                     "--pid-file", str(self.root / "run" / "munged.pid"), "--log-file", str(self.root / "log" / "munged.log"),
                     "--seed-file", str(self.root / "munge" / "munge.seed")], "munged")  # fmt: skip
        self._wait_for(lambda: munge_socket.exists(), timeout, "munged did not create its socket")
        self._spawn([which("slurmctld"), "-D", "-i"], "slurmctld")
        self._spawn([which("slurmd"), "-D", "-N", "localhost"], "slurmd")
        self._wait_for(self._node_idle, timeout, "the local node never became idle")
        return self

    def _spawn(self, cmd: list[str], name: str) -> None:
        log = open(self.root / "log" / f"{name}.stdout", "wb")  # noqa: SIM115 - lives as long as the daemon
        # start_new_session: the daemon gets its own process group, so stopping it by PID is clean
        self.procs.append(
            subprocess.Popen(
                cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def _wait_for(self, ready, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.2)
        raise RuntimeError(f"{message}; logs:\n{self.logs()}")

    def _node_idle(self) -> bool:
        done = subprocess.run(
            [which("scontrol"), "show", "node", "localhost"],
            env=self.env,
            capture_output=True,
            text=True,
        )
        return "State=IDLE" in done.stdout

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted((self.root / "log").glob("*"))
        )

    def submit(self, script: Path, args: list[str], cwd: Path, env: dict[str, str]) -> int:
        """sbatch a job script; extra args go to the script (and on to train.py)."""
        done = subprocess.run(
            [which("sbatch"), "--parsable", "--chdir", str(cwd), str(script), *args],
            env={**env, "SLURM_CONF": self.env["SLURM_CONF"]}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(done.stdout.strip().split(";")[0])

    def job_state(self, job_id: int) -> str:
        done = subprocess.run(
            [which("scontrol"), "show", "job", str(job_id)],
            env=self.env,
            capture_output=True,
            text=True,
        )
        match = re.search(r"JobState=(\w+)", done.stdout)
        return match.group(1) if match else "UNKNOWN"

    def wait(self, job_id: int, timeout: float = 600) -> str:
        """Poll scontrol (sbatch --wait sleeps 2, 8, 32 s between checks: too slow for tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.job_state(job_id)
            if state in (
                "COMPLETED",
                "FAILED",
                "CANCELLED",
                "TIMEOUT",
                "OUT_OF_MEMORY",
                "NODE_FAIL",
                "BOOT_FAIL",
            ):
                return state
            time.sleep(0.5)
        raise TimeoutError(f"job {job_id} still {self.job_state(job_id)} after {timeout} s")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(
            self.root / "state", ignore_errors=True
        )  # no job state leaks into the next session


def smoke_test(timeout: float = 60) -> str:
    """Start a throwaway cluster, run one job, stop: the job's state (COMPLETED when all is well)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="scaling-slurm-smoke-"))
    cluster = LocalSlurm(root)
    try:
        cluster.start(timeout=timeout)
        job = root / "job.sh"
        job.write_text("#!/bin/bash\necho job $SLURM_JOB_ID ran\n")
        return cluster.wait(cluster.submit(job, [], cwd=root, env=dict(os.environ)), timeout)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # `python tests/local_slurm.py`: does a local Slurm come up here?
    try:
        print(smoke_test())
    except RuntimeError as exc:
        print(f"error: {exc}")
        raise SystemExit(1) from None
