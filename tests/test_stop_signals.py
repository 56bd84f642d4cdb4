"""SIGTERM/SIGINT during C code that calls back into Python: held until it ends, then raised (not lost)."""

import os
import signal

import numpy as np
import pytest

from audiosetmix_lib.audio_io import encode_flac
from audiosetmix_lib.stop_signals import BuildInterrupted, stop_signals_raise, stops_deferred


def test_a_stop_inside_a_deferred_block_is_raised_when_it_ends():
    before = signal.getsignal(signal.SIGTERM)
    reached = []
    with stop_signals_raise():
        with pytest.raises(BuildInterrupted, match="SIGTERM"):
            with stops_deferred():
                os.kill(os.getpid(), signal.SIGTERM)  # recorded: nothing is raised inside
                reached.append("after the kill")
    assert reached == ["after the kill"]
    assert signal.getsignal(signal.SIGTERM) == before  # the handlers are put back


def test_outside_a_build_a_deferred_ctrl_c_is_still_a_keyboard_interrupt():
    with pytest.raises(KeyboardInterrupt):
        with stops_deferred():
            os.kill(os.getpid(), signal.SIGINT)


def test_a_stop_inside_the_flac_encoders_callback_is_not_lost(monkeypatch):
    """libsndfile writes FLAC through a Python callback (the buffer's `write`); a signal raised in there was
    printed and ignored by cffi, and the build went on to exit 0. Now the encoding completes, then the stop comes."""
    import io

    import soundfile

    class SignalOnFirstWrite(io.BytesIO):
        sent = False

        def write(self, data):
            if not SignalOnFirstWrite.sent:
                SignalOnFirstWrite.sent = True
                os.kill(os.getpid(), signal.SIGINT)  # arrives inside the encoder's callback
            return super().write(data)

    pcm = (np.sin(np.arange(16000) / 5) * 20000).astype(np.int16)
    monkeypatch.setattr(io, "BytesIO", SignalOnFirstWrite)
    with stop_signals_raise():
        with pytest.raises(BuildInterrupted, match="SIGINT"):
            encode_flac(pcm, 16000)
    assert SignalOnFirstWrite.sent
    monkeypatch.undo()
    decoded, rate = soundfile.read(io.BytesIO(encode_flac(pcm, 16000)), dtype="int16")
    assert rate == 16000 and np.array_equal(decoded, pcm)
