"""AudioSetMix library: sources -> event pool -> recipes -> audio + captions + negatives."""

__version__ = "0.1.0"
