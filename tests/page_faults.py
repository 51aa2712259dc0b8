"""Page faults of a large block allocated again after it was freed: what :mod:`icestat.allocator` saves."""

import resource

import numpy as np


def faults_of_a_block_again(item: object = None) -> tuple[int, int]:
    """Page faults of filling a 256 MiB block, and of filling one allocated after freeing it.

    `item` is unused: it lets the function run as a Dask task over items.
    """

    def filled_block():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = np.ones(2**25)
        return block, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    block, first = filled_block()
    del block
    return first, filled_block()[1]
