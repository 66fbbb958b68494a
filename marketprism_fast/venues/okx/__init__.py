"""Venue family package."""
