"""The `slurm` fixture: a real one-node SLURM cluster (munge, MariaDB + slurmdbd, slurmctld, slurmd) for this session."""
from __future__ import annotations

import os

import pytest

from tests.cluster.slurm_cluster import Cluster, ClusterUnavailable, start, stop


@pytest.fixture(scope="session")
def slurm(tmp_path_factory) -> Cluster:
    """Start the cluster (installing slurm-wlm, munge, slurmdbd, mariadb-server if missing); skip where it cannot."""
    folder = tmp_path_factory.mktemp("slurm")
    try:
        cluster = start(folder, cpus=max(4, os.cpu_count() or 1))
    except ClusterUnavailable as error:
        stop(folder)
        pytest.skip(f"no SLURM test cluster here: {error}")
    os.environ["SLURM_CONF"] = str(cluster.conf)  # for submitit's own sbatch/sacct calls
    yield cluster
    stop(folder)
    os.environ.pop("SLURM_CONF", None)
