"""群流 qunflow: a low-code automation engine for community operations on WeChat / WeCom.

The distribution installs this one top-level package. Its parts live in the repository's top-level
folders and are mapped here by setuptools: `qunflow.engine` (the runtime), `qunflow.nodes` (the
built-in nodes), `qunflow.editor` (the web app and the command line), `qunflow.flows` (templates) and
`qunflow.bench` (benchmarks). Node authors import from `qunflow.sdk`; tests of nodes use
`qunflow.testing`.
"""

__version__ = "0.2.0"
