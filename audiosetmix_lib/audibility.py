"""Which drawn transforms an event's sound can carry, decided when the recipe is planned.

Captions are written from the planned recipe before anything is rendered, so a transform that
could not be heard on its event (a low-pass on a near-pure tone: its one frequency stays) must not be
drawn at all. Each event's sound is measured once (`transforms.measure.event_features`, from the
source's audio at the build's rate) and each transform judges it (`audible_on`). The measure is a
pure function of the event's audio, so every process and engine decides the same.
"""

from __future__ import annotations

from collections import OrderedDict

from .events import Event
from .sources.base import Source
from .transforms import audible_transforms
from .transforms.measure import EventFeatures, event_features

MAX_EVENTS = 4096  # features kept per process (about 2 KB each at 48 kHz); a forgotten one is measured again


class Audibility:
    """An event's measured sound, kept per process; travels empty (pickling keeps the source and rate)."""

    def __init__(self, source: Source, sample_rate: int) -> None:
        self.source = source
        self.sample_rate = int(sample_rate)
        self._features: OrderedDict = OrderedDict()

    def __getstate__(self) -> dict:
        return {"source": self.source, "sample_rate": self.sample_rate}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["source"], state["sample_rate"])

    def features(self, event: Event) -> EventFeatures:
        """The event's band spectrum, measured from its whole audio (once while it stays in the table)."""
        found = self._features.get(event.event_id)
        if found is None:
            found = event_features(self.source.load(event, self.sample_rate), self.sample_rate)
            self._features[event.event_id] = found
            if len(self._features) > MAX_EVENTS:
                self._features.popitem(last=False)
        else:
            self._features.move_to_end(event.event_id)
        return found

    def audible(self, event: Event, transforms: dict) -> dict:
        """`transforms` less those this event's sound would not carry."""
        return audible_transforms(transforms, lambda: self.features(event))
