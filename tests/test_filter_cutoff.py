"""The filter's cut-off is placed in the audible band: rumble below 50 Hz does not pull it down there.

Oracle: a hand-made spectrum (a loud 20 Hz rumble under two equal tones at 300 Hz and 3 kHz) whose
cumulative audible power is known: half at 300 Hz, all at 3 kHz.
"""

import numpy as np
import pytest
from helpers import SR, tone

from audiosetmix_lib.transforms import filter as filter_transform


def rumble_and_two_tones() -> np.ndarray:
    # the rumble holds 98 % of the power: counted, a low-pass keeping 30 % sits at 20 Hz and removes both tones
    return tone(20.0, 2.0, amplitude=1.0) + tone(300.0, 2.0, amplitude=0.1) + tone(3000.0, 2.0, amplitude=0.1)


@pytest.mark.parametrize(("direction", "expected_hz"), [("down", 300.0), ("up", 3000.0)])
def test_the_cutoff_counts_only_the_audible_power(direction, expected_hz):
    cutoff = filter_transform.cutoff_for(rumble_and_two_tones(), SR, direction, 0.3)
    assert cutoff == pytest.approx(expected_hz, abs=2.0)


def test_a_low_pass_of_a_rumbling_recording_keeps_its_audible_body():
    x = rumble_and_two_tones()
    out = filter_transform.apply(x, SR, {"direction": "down", "share": 0.3, "order": 8})
    spectrum = np.abs(np.fft.rfft(out))
    freqs = np.fft.rfftfreq(len(out), 1.0 / SR)
    audible = freqs >= 50
    assert freqs[audible][np.argmax(spectrum[audible])] == pytest.approx(300.0, abs=1.0)
    # the 300 Hz tone is kept (the 3 kHz one removed): most of the audible power is at 300 Hz
    near = np.abs(freqs - 300) < 5
    assert (spectrum[near] ** 2).sum() > 0.9 * (spectrum[audible] ** 2).sum()
