"""Device simulators on raw pty pairs: a V.253 voice modem, a serial FXS board with a phone."""
