"""The lab registry (engine/labs/__init__.py): one entry per lab, and its promise that reading a lab's ParamSpace
imports no model code, so the app's pages and the CLI start without torch."""

import subprocess
import sys

import pytest

from engine.labs import LABS


@pytest.mark.parametrize("lab", list(LABS))
def test_reading_a_labs_space_imports_no_torch(lab):
    probe = (
        "import sys\n"
        "from engine.labs import get_lab\n"
        f"space = get_lab({lab!r}).space\n"
        "assert space.params, 'no parameters'\n"
        "heavy = sorted(name for name in ('torch', 'sklearn') if name in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=120)
