"""``harbridge demo``: the whole product on one machine, with nothing else installed or running."""
