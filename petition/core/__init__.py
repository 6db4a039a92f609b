"""Shared plumbing that every feature uses; it imports no feature."""
