"""The web page of a run's overlays (:mod:`icestat.overlay_index`)."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd

from icestat.overlay_index import INDEX_FILE, write_overlay_index


class _Page(HTMLParser):
    """The pictures and caption text of a page."""

    def __init__(self):
        super().__init__()
        self.images, self.captions, self._in_caption = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "figcaption":
            self._in_caption = True
            self.captions.append("")

    def handle_endtag(self, tag):
        self._in_caption = self._in_caption and tag != "figcaption"

    def handle_data(self, data):
        if self._in_caption:
            self.captions[-1] += data


def test_the_page_shows_each_overlay_under_its_summary_and_names_the_failed(tmp_path):
    names = ["mic <1> & co", "mic_2", "mic_3", "mic_4"]
    for name in names[:2]:
        (tmp_path / f"{name}_overlay.png").write_bytes(b"png")
    summary = pd.DataFrame({
        "micrograph": names, "status": ["picked", "done before", "failed", "picked"], "n_picks": [120, 7, 0, 3],
        "ice_fraction": [0.7, 0.9, np.nan, 0.5], "particle_fraction": [0.2, 0.05, np.nan, 0.1],
        "carbon_fraction": [0.1, 0.0, np.nan, 0.4], "contamination_fraction": [0.0, 0.05, np.nan, 0.0],
        "diameter_px": [142.0, 141.6, np.nan, 140.0], "polarity": ["dark", "bright", np.nan, "dark"],
        "error": ["", "", "mic_3.mrc: truncated: 100 of 4096 bytes", ""]})
    path = write_overlay_index(summary, tmp_path)
    assert path == tmp_path / INDEX_FILE
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    assert [image["src"] for image in page.images] == ["mic%20%3C1%3E%20%26%20co_overlay.png", "mic_2_overlay.png"]
    assert all(image["loading"] == "lazy" for image in page.images)
    assert page.captions == [
        "mic <1> & co: 120 picks; ice 70%, particle 20%, carbon 10%, contamination 0%; diameter 142 px; particles dark",
        "mic_2: 7 picks; ice 90%, particle 5%, carbon 0%, contamination 5%; diameter 142 px; particles bright",
        "mic_3: mic_3.mrc: truncated: 100 of 4096 bytes",
        "mic_4: no overlay"]
