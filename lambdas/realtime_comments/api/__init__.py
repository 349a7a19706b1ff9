"""HTTP API plumbing shared by the comments API and the broadcast endpoint."""
