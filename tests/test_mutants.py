"""The golden vectors tell a right implementation from a wrong one.

The slow reference of validation/SPEC.md (``naive.SpecReference``, no nvfp4_np code)
must reproduce every committed vector, and each mutant of the catalogue (tests/mutants.py:
the same reference with one rule changed) must fail at least one. The table in
validation/README.md says which vectors catch which mutant; it must list every mutant.
"""

import os
import sys
from fractions import Fraction

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutants  # noqa: E402
from naive import F32, SpecReference, fma32  # noqa: E402

NAMES = mutants.vector_names()


class _Unmutated:
    name = "reference"

    @staticmethod
    def reference(recipe, rounding):
        return SpecReference(recipe, rounding)


def test_the_reference_reproduces_every_committed_vector():
    assert mutants.catches(_Unmutated, NAMES) == []


@pytest.mark.parametrize("mut", mutants.MUTANTS, ids=[m.name for m in mutants.MUTANTS])
def test_every_mutant_fails_a_committed_vector(mut):
    listed = mutants.committed_table().get(mut.name, (0, []))[1]
    order = listed + [n for n in NAMES if n not in listed]
    caught = mutants.catches(mut, order, first_only=True)
    assert caught, f"{mut.name} ({mut.section}: {mut.what}) passes all {len(NAMES)} vectors"
    if listed:  # the table's first vector really catches it
        assert caught[0] == listed[0], f"the table says {listed[0]} catches {mut.name}; regenerate it"


def test_the_table_lists_every_mutant_as_caught():
    table = mutants.committed_table()
    assert list(table) == [m.name for m in mutants.MUTANTS], \
        "validation/README.md's table is stale: run python tests/mutants.py --table"
    assert all(count > 0 and first for count, first in table.values())
    with open(mutants.TABLE, encoding="utf-8") as f:
        text = f.read()
    assert f"**{len(mutants.MUTANTS)} of {len(mutants.MUTANTS)}** mutants caught by the {len(NAMES)} vectors" in text
    with open(os.path.join(mutants.REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert f"**{len(mutants.MUTANTS)} of {len(mutants.MUTANTS)}**" in readme and f"holds {len(NAMES)} golden vectors" in readme


@pytest.mark.parametrize("mut, why", mutants.UNREACHED, ids=[m.name for m, _ in mutants.UNREACHED])
def test_the_unreached_mutants_are_still_not_caught(mut, why):
    """Known blind spots stay documented: when a vector starts catching one, it belongs in
    MUTANTS (and the table)."""
    assert mutants.catches(mut, NAMES) == [], f"{mut.name} is caught now: register it as a mutant"
    with open(mutants.TABLE, encoding="utf-8") as f:
        assert f"| `{mut.name}` |" in f.read()


def test_mutant_names_are_unique_and_name_a_spec_section():
    everything = mutants.MUTANTS + [m for m, _ in mutants.UNREACHED]
    names = [m.name for m in everything]
    assert len(set(names)) == len(names)
    assert all(m.section.startswith("§") and m.what for m in everything)


def test_the_ten_mistakes_of_the_issue_are_catalogued():
    """The mistakes that passed the first 140 vectors (issue 21) are all mutants here."""
    names = {m.name for m in mutants.MUTANTS}
    assert {"lane-sum-pairwise", "lane-sum-sequential", "prefix-sums-float32", "hessian-no-fast-fail",
            "matvec-fma", "hessian-exact-float32", "te-divide", "torchao-block-value-order",
            "admm-best-ties-to-admm", "admm-returns-quants-scale"} <= names


def _exact_fma32(a, b, c):
    v = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    f = np.float32(float(v))
    near = [f, np.nextafter(f, F32(np.inf)), np.nextafter(f, F32(-np.inf))]
    return min(near, key=lambda y: (abs(Fraction(float(y)) - v), int(np.array(y, F32).view(np.uint32)) & 1))


def test_fma32_rounds_once():
    """The mutants' FMA against exact rational arithmetic, with sums that land on float32
    midpoints (where rounding twice would differ)."""
    rs = np.random.RandomState(0)
    a = rs.standard_normal(3000).astype(F32)
    b = rs.standard_normal(3000).astype(F32)
    c = (-(a.astype(np.float64) * b) * (1 + rs.choice([0, 2.0**-24, -2.0**-24, 2.0**-25, 1e-3], 3000))).astype(F32)
    c[::4] = (rs.standard_normal(750) * 2.0 ** rs.randint(-40, 40, 750)).astype(F32)
    # a*b + c exactly halfway between two float32 values, plus a tiny tail
    a[:5] = [1 + 2**-23, 1.5, 3.0, 1 + 2**-12, 1 - 2**-24]
    b[:5] = [1 + 2**-23, 1 + 2**-23, 1 + 2**-22, 1 + 2**-12, 1 + 2**-23]
    c[:5] = [-1.0, 2**-30, -3.0, 2**-40, 0.0]
    got = fma32(a, b, c)
    want = np.array([_exact_fma32(x, y, z) for x, y, z in zip(a, b, c)], F32)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_constructed_rows_pin_the_rule_they_name():
    """Each row of nvfp4_np/validation/constructed.py makes its mutant change a byte."""
    import find_constructions as fc
    from nvfp4_np.validation import constructed

    by_name = {m.name: m for m in mutants.MUTANTS}
    assert constructed.ROWS, "no constructed rows"
    for (method, recipe, bs), items in constructed.ROWS.items():
        for name, hex_rows in items:
            rows = np.stack([np.array([int(w, 16) for w in r.split()], np.uint32).view(F32) for r in hex_rows])
            hit = fc.differing_rows(by_name[name], (method, recipe, bs), rows)
            assert hit.size == len(rows), f"{name} in {method}-{recipe}-bs{bs}: rows {sorted(set(range(len(rows))) - set(hit))} do not pin it"
