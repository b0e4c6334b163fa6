"""Objects over time: the tracker that gives each detection a stable track id."""
