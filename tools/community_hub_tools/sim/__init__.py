"""Device simulators that talk to the edge as real devices do."""
