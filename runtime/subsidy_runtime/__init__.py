"""Plumbing shared by every service of the subsidy platform (one library, no copies)."""
