"""Scripted scenario runs (docs/scenarios.md): a network of PBX simulators and gateways in one
process, a timeline of what people do, and expectations checked against the trace.

* :func:`gateway.scenario.schema.load_scenario` -- read and check a scenario file;
* :func:`gateway.scenario.runner.run_scenario` -- run it, get a :class:`~gateway.scenario.
  report.ScenarioReport` (verdicts, ladder, RTP streams);
* :mod:`gateway.scenario.report` -- JSON, JUnit XML, pcap and HTML files of a report;
* :func:`gateway.scenario.expect.evaluate` -- the expectation engine, pure;
* :func:`gateway.scenario.catalog.find_scenario` -- a built-in scenario by name.
"""
