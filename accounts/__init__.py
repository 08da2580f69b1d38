"""Customers and staff: the custom user model."""
