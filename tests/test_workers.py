"""Analysis workers: what the parent prepares before it forks them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_jieba_is_loaded_before_the_workers_fork(tmp_path: Path) -> None:
    # Forked workers share the parent's dictionary only if the parent has loaded
    # it: otherwise each loads a private copy (over 100 MB per worker).  Run in a
    # fresh interpreter, where nothing has loaded jieba yet.
    script = textwrap.dedent(
        """
        import sys
        from newsearch import NewsIndex
        from newsearch import segmenter, workers

        ix = NewsIndex.create(sys.argv[1])
        assert not any(s._cutter for s in segmenter.SEGMENTERS.values())
        workers._share_before_fork(ix._manifest)
        loaded = [key for key, s in segmenter.SEGMENTERS.items() if s._cutter is not None]
        print(loaded)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "index")], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[()]", out.stdout + out.stderr
