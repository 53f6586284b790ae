"""Files the `.ci/rt` script uses to set up a local Request Tracker 5 (initialdata, scrip, hook)."""
