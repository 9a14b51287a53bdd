"""Media: sans-IO RTP/RTCP, codecs, DTMF, tones, jitter buffer and the line-to-IP media bridge.

The modules every packet passes through are compiled by mypyc when gwemu is installed (see
``setup.py`` and :mod:`gateway._compiled`); their ``.py`` sources are the only implementation.
"""
