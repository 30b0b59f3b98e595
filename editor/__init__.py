"""qunflow's outermost layer: the web app (litestar) and the `qunflow` command line."""
