"""What several subcommands share: checking --device."""

from __future__ import annotations

import logging

from icestat.backend import array_module

log = logging.getLogger("icestat.cli")


def device_usable(device: str) -> bool:
    """True when `device` can run here; otherwise log one line saying why."""
    try:
        array_module(device)
    except (ValueError, RuntimeError) as err:
        log.error("--device %s: %s", device, err)
        return False
    return True
