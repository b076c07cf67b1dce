"""seriescheck's checker: contracts run for every (step, user, protocol) cell, with honest verdicts."""
