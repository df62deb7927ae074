"""Joining Ray, the optional engine behind ``agentapp sweep`` and ``train --workers``.

Ray is an extra (``pip install 'agentapp[ray]'``): nothing imports it until one of those two asks
for it, and when it is missing they say how to install it (a :class:`UserError`, exit 2) instead of
failing on an import. Without ``--address`` a local Ray is started inside this process, sized to
this machine; with one, the process joins that cluster (``auto``, ``host:port``, or a Ray Client
address ``ray://host:port``).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from types import ModuleType

from agentapp.errors import UserError

INSTALL_HINT = "pip install 'agentapp[ray]'"


def require_ray(feature: str, address: str | None = None) -> ModuleType:
    """The ``ray`` module, or a UserError saying that *feature* needs the Ray extra. The first
    import is told how this process will use Ray (*address*: the cluster it will join)."""
    if address and "ray" not in sys.modules:  # Ray reads its auth mode when imported
        _use_token_if_present()
    try:
        import ray
    except ImportError:
        raise UserError(f"{feature} needs Ray, an optional extra: {INSTALL_HINT}") from None
    return ray


def connect(feature: str, address: str | None = None) -> ModuleType:
    """Make sure this process is connected to Ray and return the module.

    A process already connected (a test's or a sweep's Ray) is left as it is. *address* None
    starts a local Ray with this machine's cores and no dashboard; otherwise the process joins
    the cluster at *address*, and one that cannot be reached is bad input.
    """
    ray = require_ray(feature, address)
    if ray.is_initialized():
        return ray
    if address:
        _check_reachable(address)
    options = {"include_dashboard": False, "logging_level": logging.ERROR,
               "log_to_driver": False, "configure_logging": True}
    try:
        if address:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"--address: could not start or join {where}: {first}") from None
    return ray


def _use_token_if_present() -> None:
    """Send this user's Ray token when joining a cluster, as Ray's own ``ray`` command does: a
    cluster started with ``ray start`` has token authentication on and refuses a client without
    one, and ``ray.init(address=...)`` sends it only when ``RAY_AUTH_MODE=token`` is set. A mode
    the user set is left alone."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    token_file = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(token_file):
        os.environ["RAY_AUTH_MODE"] = "token"


def _check_reachable(address: str) -> None:
    """A UserError within seconds when nothing listens at *address*'s host and port: Ray
    itself retries an unreachable cluster for minutes. (``auto`` and addresses without a port
    are left to Ray.)"""
    where = address.removeprefix("ray://")
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as error:
        raise UserError(f"--address {address}: no Ray cluster answers there "
                        f"({error.strerror or error})") from None


def cpus_per_actor(actors: int, address: str | None) -> float:
    """CPUs each of *actors* long-lived actors asks Ray for: one on a cluster; on the local Ray
    a share of this machine's cores (at most one each), so that N workers always fit on a
    small machine instead of waiting forever for cores it does not have."""
    if address:
        return 1.0
    cores = os.cpu_count() or 1
    return min(1.0, max(0.01, cores / max(1, actors + 1)))
