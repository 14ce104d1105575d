"""Widths that no machine holds are refused before anything is allocated."""
import pytest

import nngraph


def test_a_spec_too_wide_to_hold_is_refused_by_name():
    with pytest.raises(ValueError, match="layer_sizes: 2-1000000-1000000-1 has 1,000,003,000,000 weights"):
        nngraph.NetworkSpec((2, 10 ** 6, 10 ** 6, 1))
    nngraph.NetworkSpec((784, 512, 512, 10))  # a wide MLP of the field is fine
