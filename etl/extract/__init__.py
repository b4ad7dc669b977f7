"""Extraction from Salesforce into bronze (configuration only so far)."""
