"""Writing STAR files whose text values RELION and ``starfile`` read back as written, and reading those it reads right.

A bare STAR value ends at whitespace; one that starts with ``_``, ``data_`` or
``loop_`` is read as a label or a new block, and ``#`` starts a comment
(``starfile`` cuts a line at any ``#``). Such values, a micrograph named
``_0001.mrc`` or ``grid#2/mic.mrc``, are written in double quotes, as RELION
writes a name with a space. A value with a quote mark cannot be written:
neither reader takes one inside a quoted value, and ``starfile`` reads every
``'`` as ``"``. A STAR file to read that ``starfile`` would misread so is
refused saying where (:func:`read_star_file`).
"""

from __future__ import annotations

import os
import re
from typing import Mapping

import pandas as pd
import starfile

from icestat._atomic import atomic_path

#: A ``#`` within a bare value (after a character that is not whitespace); quoted values are taken out first.
_HASH_IN_VALUE = re.compile(r"\S#")
#: A value in double or single quotes (STAR's two), as a whole token.
_QUOTED = re.compile(r"""(?:^|(?<=\s))(["'])[^"']*\1(?=\s|$)""")
#: A comment after the values: a ``#`` that starts a token, and the rest of the line.
_COMMENT = re.compile(r"(?:^|\s)#.*")
#: Beginnings that make a bare value something else to a STAR reader (case-insensitive).
RESERVED_BEGINNINGS = ("_", "data_", "loop_", "save_", "global_", "stop_", "$", ";")


def star_text(value: str) -> str:
    """`value` as a STAR token: in double quotes where a reader would take it bare for something else.

    Raises
    ------
    ValueError
        When `value` holds a quote mark.

    Examples
    --------
    >>> star_text("mic_001.mrc"), star_text("_001.mrc"), star_text("grid 2/mic.mrc")
    ('mic_001.mrc', '"_001.mrc"', '"grid 2/mic.mrc"')
    """
    if "'" in value or '"' in value:
        raise ValueError(f"{value!r}: a name with a quote mark cannot go into a STAR file (starfile, which icestat "
                         "reads them with, reads it back changed); rename it")
    if value and not any(char.isspace() for char in value) and "#" not in value \
            and not value.lower().startswith(RESERVED_BEGINNINGS):
        return value
    return f'"{value}"'


def write_star_file(blocks: Mapping[str, pd.DataFrame], path: str | os.PathLike) -> None:
    """Write data blocks to a STAR file (atomically), each text value as :func:`star_text` gives it.

    Parameters
    ----------
    blocks : mapping of str to DataFrame
        Block name (``""`` for a bare ``data_``) -> its loop.
    path : str or PathLike
        Output file.
    """
    quoted = {name: frame.assign(**{label: _star_texts(frame[label]) for label in frame.columns
                                    if pd.api.types.is_string_dtype(frame[label])})
              for name, frame in blocks.items()}
    with atomic_path(path) as tmp:
        # the values come quoted where they must be: starfile's own quoting (of values with a space) is off
        starfile.write(quoted, tmp, overwrite=True, quote_character="")


def _star_texts(values: pd.Series) -> pd.Series:
    """:func:`star_text` of each value, made once per distinct value (a particles file names each micrograph once
    per pick)."""
    return values.map({value: star_text(value) for value in values.unique()})


def read_star_file(path: str | os.PathLike) -> dict:
    """The data blocks of a STAR file, by name (``starfile.read``, always a dict).

    Raises
    ------
    ValueError
        In one line naming the file, where it is damaged or has a value that
        ``starfile`` would misread (:func:`check_starfile_reads_as_written`).
    """
    check_starfile_reads_as_written(path)
    try:
        return starfile.read(path, always_dict=True)
    except Exception as err:  # starfile raises many types on a damaged file
        raise ValueError(f"{path}: not a readable STAR file ({err})") from None


def check_starfile_reads_as_written(path: str | os.PathLike) -> None:
    """Raise ValueError where a STAR file has a bare value that ``starfile`` would misread: one with ``#`` in it
    (RELION writes ``grid#2/mic.mrc`` so), which it takes for the start of a comment, cutting the value short, or
    with ``'`` in it (``it's.mrc``), which it reads as ``"``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> star = pathlib.Path(tempfile.mkdtemp()) / "mics.star"
    >>> lines = ["data_", "loop_", "_rlnMicrographName #1", '"a#1.mrc"', "'b 2.mrc'", "c.mrc # it's", "grid#2/mic.mrc"]
    >>> _ = star.write_text("\\n".join(lines))
    >>> check_starfile_reads_as_written(star)
    Traceback (most recent call last):
    ...
    ValueError: .../mics.star: line 7 (grid#2/mic.mrc) has a '#' inside a value, which icestat's STAR reader...
    """
    with open(path, errors="replace") as file:
        for number, line in enumerate(file, 1):
            text = line.strip()
            if not text or text[0] in "_#":
                continue
            bare = _COMMENT.sub("", _QUOTED.sub("", text))
            if _HASH_IN_VALUE.search(bare):
                raise ValueError(f"{path}: line {number} ({text}) has a '#' inside a value, which icestat's STAR "
                                 "reader (starfile) takes for the start of a comment; put the value in double quotes "
                                 "or rename its file")
            if "'" in bare:
                raise ValueError(f"{path}: line {number} ({text}) has a quote mark (') inside a value, which "
                                 "icestat's STAR reader (starfile) reads as a double quote; rename its file")
