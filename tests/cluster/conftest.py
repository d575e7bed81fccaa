"""The `slurm` fixture: a real one-node SLURM cluster (munge, MariaDB + slurmdbd, slurmctld, slurmd) for one test module.

Module scope: the daemons stop when the cluster tests end, so they neither write state files into the temporary
folders that later tests watch (test_bad_input checks that nothing is written outside results/) nor use the CPU."""
from __future__ import annotations

import os

import pytest

from tests.cluster.slurm_cluster import Cluster, ClusterUnavailable, start, stop


@pytest.fixture(scope="module")
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
