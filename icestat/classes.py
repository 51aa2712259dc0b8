"""Class codes of label images, shared by region masks, the simulator and segmentations.

The codes are those of the region labels in ``../shared/data`` (EMPIAR-10017):
0 amorphous ice, 1 particle, 2 carbon film, 3 contamination, 255 ignore.
Segmentations (int8) mark pixels without data, the frame border of
:mod:`icestat.frame`, with ``NO_DATA`` (-1): the same byte as ``IGNORE``, so an
unsigned reader of a labels file sees 255 there.
"""

ICE = 0
PARTICLE = 1
CARBON = 2
CONTAMINATION = 3
IGNORE = 255
NO_DATA = -1

#: Class code -> name, for the classes a pixel can belong to.
CLASS_NAMES = {ICE: "ice", PARTICLE: "particle", CARBON: "carbon", CONTAMINATION: "contamination"}

#: Every code a region mask may hold.
VALID_CODES = frozenset(CLASS_NAMES) | {IGNORE}
