"""The lab registry (engine/labs/__init__.py): one entry per lab, and its promise that reading a lab's ParamSpace
imports no model code, so the app's pages and the CLI start without torch."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.labs import LABS, get_lab


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


@pytest.mark.parametrize("lab", list(LABS))
def test_every_ctx_params_lookup_in_a_lab_names_one_of_its_parameters(lab):
    """`ctx.params["…"]` fails only inside a worker: a misspelt name is caught here instead."""
    package = Path(__file__).resolve().parents[2] / "engine" / "labs" / lab
    names = {p.name for p in get_lab(lab).space.params}
    looked_up = set()
    for path in package.glob("*.py"):
        text = path.read_text()
        pattern = r"\bparams\[\"(\w+)\"\]" if "params = ctx.params" in text else r"ctx\.params\[\"(\w+)\"\]"
        looked_up |= {(path.name, name) for name in re.findall(pattern, text)}
    assert looked_up, "no lookups found: the pattern no longer matches the code"
    assert {(file, name) for file, name in looked_up if name not in names} == set()
