"""The built-in scenarios (``gwemu scenario list``): scenario files and the node configs they
share (``nodes/``), shipped as package data."""
