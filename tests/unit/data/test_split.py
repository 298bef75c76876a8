import numpy as np
import pytest

from dlbench.data.split import split_indices
from dlbench.errors import UserError


def test_split_is_deterministic_disjoint_and_complete():
    y = np.repeat(np.arange(5), 40)
    a = split_indices(len(y), y, (0.1, 0.2), seed=3, stratify=True)
    b = split_indices(len(y), y, (0.1, 0.2), seed=3, stratify=True)
    assert all((x == z).all() for x, z in zip(a, b))
    allidx = np.concatenate(a)
    assert len(allidx) == len(y) and len(set(allidx.tolist())) == len(y)


def test_split_is_stratified():
    y = np.array([0] * 90 + [1] * 10)
    tr, va, te = split_indices(len(y), y, (0.1, 0.2), seed=0, stratify=True)
    assert (y[te] == 1).sum() == 2 and (y[va] == 1).sum() == 1 and (y[tr] == 1).sum() == 7


def test_seed_changes_split():
    y = np.zeros(100)
    assert not (split_indices(100, y, (0.1, 0.2), 0, False)[2] == split_indices(100, y, (0.1, 0.2), 1, False)[2]).all()


def test_fractions_must_leave_training_data():
    with pytest.raises(UserError, match="leaves no training data"):
        split_indices(10, None, (0.5, 0.5), 0, False)
