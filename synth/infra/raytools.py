"""Where work runs: joining a Ray cluster or starting an embedded one, and how units are placed."""

from __future__ import annotations

import os

from pydantic import Field

from synth.infra.config import StrictModel


class RaySpec(StrictModel):
    """Where to run: None = embedded local Ray (or the cluster in RAY_ADDRESS)."""

    address: str | None = None
    num_cpus: int | None = Field(None, ge=1)
    cpus_per_shard: float = Field(0.5, gt=0, description="CPUs reserved per work unit")
    max_retries: int = Field(3, ge=0, description="re-runs of a unit whose worker died")
    max_pending: int | None = Field(
        None, ge=1, description="units submitted at once; default: twice what the cluster's "
                                "CPUs can run (backpressure keeps the driver's cost flat)")
    stall_timeout_s: float = Field(
        600.0, gt=0, description="stop when no unit has finished for this long while none is "
                                 "running (e.g. workers that cannot start)")


def init_ray(spec: RaySpec) -> None:
    """Join the configured cluster (or RAY_ADDRESS), else start an embedded local Ray."""
    import ray

    if ray.is_initialized():
        return
    address = spec.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:  # "local": a fresh embedded instance, never a cluster found on this machine
        ray.init(address="local", num_cpus=spec.num_cpus, include_dashboard=False,
                 log_to_driver=False)


def cpus_in_use() -> float:
    """CPUs the cluster's running tasks and actors hold right now."""
    import ray

    return cluster_cpus() - float(ray.available_resources().get("CPU", 0.0))


def cluster_cpus() -> float:
    """CPUs of the connected Ray cluster (at least 1)."""
    import ray

    return max(1.0, float(ray.cluster_resources().get("CPU", 1.0)))
