"""The CD flow: releases, promotion behind gates, approvals, rollback, status."""
